// Command virtdev-net runs a machine's QEMU with its network: a userspace
// network stack whose every outgoing connection the project's network zone
// allows or refuses, and the guest's SSH forwarded from 127.0.0.1.
//
//	virtdev-net [OPTIONS] --net=<zone> --ssh-port=<port> -- <qemu> [qemu options]
//
// QEMU runs as its child, joined to the stack by a socket it inherits, and
// its command line gets the network card (-netdev, -device) appended. The
// two end together, and virtdev-net ends as QEMU did. It is the main
// process of a machine's systemd unit; virtdev-start runs it.
package main

import (
	"errors"

	"virtdev/lib/cli"
	"virtdev/lib/egress"
	"virtdev/lib/exitcode"
	"virtdev/lib/netstack"
	"virtdev/lib/validate"
)

const (
	exitPort     = 10
	exitStart    = 11
	exitNetwork  = 12
	exitNetSetup = 13
)

type options struct {
	Net     string `long:"net" value-name:"ZONE" required:"yes" description:"network zone: none, wan or full"`
	SSHPort int    `long:"ssh-port" value-name:"PORT" required:"yes" description:"port on 127.0.0.1 forwarded to the guest's SSH server"`
}

var opts options

var command = cli.Command{
	Name:    "virtdev-net",
	Group:   cli.Internal,
	Summary: "Run a machine's QEMU behind a network that keeps to its zone.",
	Args:    []cli.Arg{{Name: "qemu", Kind: cli.ArgText}, {Name: "qemu-options", Kind: cli.ArgText, Optional: true, Repeat: true}},
	Codes: []exitcode.Code{
		{N: exitPort, Meaning: "the SSH port cannot be listened on (in use)"},
		{N: exitStart, Meaning: "QEMU cannot be started"},
		{N: exitNetwork, Meaning: "the network failed while QEMU ran; QEMU was stopped"},
		{N: exitNetSetup, Meaning: "the network cannot be set up"},
	},
	PassThrough: true,
	Options:     &opts,
	Description: `Sets the machine's network up, starts QEMU as a child joined to it (its
command line gets the network card appended: -netdev on an inherited socket,
-device virtio-net-pci), and ends when QEMU does, as QEMU did: same exit
status, or killed by the same signal. SIGTERM is passed on to QEMU, which
still gets to exit; if the network fails QEMU is stopped; if virtdev-net
dies, the kernel sends QEMU SIGTERM.

The guest gets 192.168.127.2 by DHCP; 192.168.127.1 is its gateway and DNS
server. The guest's SSH server is forwarded from 127.0.0.1:<port> in every
zone. Every other connection the guest opens is made from the host, if the
zone allows the address dialled:
  none  nothing
  wan   public internet addresses only: not the host (its loopback, its own
        addresses), not private, link-local, CGNAT, multicast or reserved
        ranges, IPv4 or IPv6
  full  everything; 192.168.127.1 and .254 reach the host's 127.0.0.1
DNS answers the zone would refuse are left out; zone none answers none.
Refused connections are reported on stderr, once a minute per destination.
No ICMP leaves: the network answers every ping itself, whatever the zone.

Otherwise the exit status is QEMU's, or death by the signal that killed
QEMU (a signal that dumps core: 128 and its number).`,
	Run: run,
}

func main() { cli.Main(command) }

func run(env *cli.Env, args []string) error {
	if len(args) == 0 {
		return cli.Usage("missing the QEMU command line")
	}
	zone, err := egress.ParseZone(opts.Net)
	if err != nil {
		return cli.Usage("%v", err)
	}
	if opts.SSHPort < validate.MinPort || opts.SSHPort > validate.MaxPort {
		return cli.Usage("invalid --ssh-port %d: a port from %d to %d", opts.SSHPort, validate.MinPort, validate.MaxPort)
	}
	env.Infof("network zone %s; the guest's SSH on 127.0.0.1:%d", zone, opts.SSHPort)
	exit, err := netstack.Run(env.Ctx, netstack.Config{
		Policy:  egress.Policy{Zone: zone},
		SSHPort: opts.SSHPort,
		Log:     env.Infof,
	}, args, env.Stdout, env.Stderr)
	var (
		portErr    *netstack.PortError
		startErr   *netstack.StartError
		networkErr *netstack.NetworkError
	)
	switch {
	case errors.As(err, &portErr):
		return cli.Errorf(exitPort, "%v\nAnother program holds the port; choose another.", err)
	case errors.As(err, &startErr):
		return cli.Errorf(exitStart, "%v", err)
	case errors.As(err, &networkErr):
		return cli.Errorf(exitNetwork, "%v", err)
	case err != nil:
		return cli.Errorf(exitNetSetup, "%v", err)
	}
	return cli.Exit(exit.Mirror())
}
