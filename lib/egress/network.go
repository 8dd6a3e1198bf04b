package egress

// The network every machine sees, the same for each: lib/netstack serves
// it, lib/qemu gives the guest its network card, and lib/config points the
// guest's resolver at it. Only the host ever dials out, so machines never
// meet on it, and one address plan serves them all.
const (
	Subnet    = "192.168.127.0/24"
	GatewayIP = "192.168.127.1" // the gateway, DHCP and DNS server
	// HostIP stands for the host's loopback, in zone full only.
	HostIP  = "192.168.127.254"
	GuestIP = "192.168.127.2"
	// GuestMAC is the guest's network card, to which DHCP always gives
	// GuestIP, so that the SSH forward knows where the guest is.
	GuestMAC = "52:54:00:12:34:56"
)
