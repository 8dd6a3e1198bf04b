package netstack

import (
	"context"
	"net"
	"net/netip"
	"strings"

	"virtdev/lib/egress"
)

// Resolver answers DNS questions on the host; *net.Resolver is one. It is
// what gvisor-tap-vsock's DNS server asks.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	LookupCNAME(ctx context.Context, host string) (string, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupNS(ctx context.Context, name string) ([]*net.NS, error)
	LookupSRV(ctx context.Context, service, proto, name string) (string, []*net.SRV, error)
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// filteredResolver answers the guest's DNS questions as the policy allows:
// addresses it would refuse to connect to are left out of answers, so a
// guest is not even told where the host's private services are; in zone
// none nothing is asked at all, since a question can carry data out.
// Names are looked up as the host's programs look them up, without the
// final dot of a DNS question, so that the host's /etc/hosts counts too.
type filteredResolver struct {
	upstream Resolver
	policy   egress.Policy
}

func (r *filteredResolver) closed(name string) error {
	if r.policy.Zone == egress.None {
		return &net.DNSError{Err: "no DNS in network zone none", Name: name, IsNotFound: true}
	}
	return nil
}

func (r *filteredResolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	if err := r.closed(host); err != nil {
		return nil, err
	}
	addrs, err := r.upstream.LookupIPAddr(ctx, strings.TrimSuffix(host, "."))
	if err != nil {
		return nil, err
	}
	var allowed []net.IPAddr
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if ok && r.policy.Check(ip.Unmap()) == nil {
			allowed = append(allowed, a)
		}
	}
	if len(allowed) == 0 {
		return nil, &net.DNSError{Err: "every address refused in network zone " + string(r.policy.Zone), Name: host, IsNotFound: true}
	}
	return allowed, nil
}

func (r *filteredResolver) LookupCNAME(ctx context.Context, host string) (string, error) {
	if err := r.closed(host); err != nil {
		return "", err
	}
	return r.upstream.LookupCNAME(ctx, host)
}

func (r *filteredResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	if err := r.closed(name); err != nil {
		return nil, err
	}
	return r.upstream.LookupMX(ctx, name)
}

func (r *filteredResolver) LookupNS(ctx context.Context, name string) ([]*net.NS, error) {
	if err := r.closed(name); err != nil {
		return nil, err
	}
	return r.upstream.LookupNS(ctx, name)
}

func (r *filteredResolver) LookupSRV(ctx context.Context, service, proto, name string) (string, []*net.SRV, error) {
	if err := r.closed(name); err != nil {
		return "", nil, err
	}
	return r.upstream.LookupSRV(ctx, service, proto, name)
}

func (r *filteredResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	if err := r.closed(name); err != nil {
		return nil, err
	}
	return r.upstream.LookupTXT(ctx, name)
}
