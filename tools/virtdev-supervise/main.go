// Command virtdev-supervise runs a machine's QEMU behind the machine's own
// network, as the main process of the machine's systemd user unit, and
// records how the machine ended.
//
//	virtdev-supervise [OPTIONS] --net=<zone> [--ssh-port=<port>] -- <qemu> [argument...]
//
// virtdev-start makes it the main process of the transient unit
// virtdev-<name>.service (Type=notify), working in the machine's
// directory; people do not run it. It exits with QEMU's status. It is the
// one program that carries the network stack (lib/netstack).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"virtdev/lib/cli"
	"virtdev/lib/egress"
	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
	"virtdev/lib/netstack"
	"virtdev/lib/qemu"
	"virtdev/lib/unit"
)

const (
	exitLaunch    = 10
	exitSilent    = 11
	exitRecord    = 12
	exitNoMachine = 13
	exitPort      = 14
	exitNetSetup  = 15
	exitNetwork   = 16
)

type options struct {
	Net     string `long:"net" value-name:"ZONE" required:"yes" choice:"none" choice:"wan" choice:"full" description:"the machine's network zone: none, wan or full"`
	SSHPort int    `long:"ssh-port" value-name:"PORT" description:"the port on 127.0.0.1 forwarded to the guest's SSH server (without it, none is)"`
}

var opts options

var command = cli.Command{
	Name:    "virtdev-supervise",
	Group:   cli.Internal,
	Summary: "Run a machine's QEMU behind its network for its systemd unit, and record how the machine ended.",
	Description: `virtdev-start runs it as the main process of the machine's unit
virtdev-<name>.service, in the machine's directory, with QEMU's command line
after "--". It sets the machine's network up, then starts QEMU as its child
(QEMU cannot outlive it), joined to the network by a socket QEMU inherits
(the command line's -netdev stream on descriptor 3), tells systemd the
machine is up once QEMU answers on its QMP socket events.sock, and follows
QEMU's events there. When QEMU has exited it writes the machine's shutdown
record (clean, forced or unknown, from QEMU's SHUTDOWN event; QEMU's exit
status and last messages), removes the machine's runtime files (port, zone,
sockets, qemu.pid, up), closes the network and exits with QEMU's status: 128+n
when signal n ended QEMU. QEMU's standard output is the supervisor's (the
installer machine's console). SIGTERM, SIGINT and SIGHUP are passed on to QEMU
as SIGTERM; the supervisor itself leaves only after QEMU. A network that
fails under QEMU stops QEMU (SIGTERM, then SIGKILL): the guest would have
lost its SSH with it.

The network: the guest gets 192.168.127.2 by DHCP; 192.168.127.1 is its
gateway and DNS server. The guest's SSH server is forwarded from
127.0.0.1:<port> in every zone. Every other connection the guest opens is
made from the host, if the zone allows the address dialled:
  none  nothing
  wan   public internet addresses only: not the host (its loopback, its own
        addresses), not private, link-local, CGNAT, multicast or reserved
        ranges, IPv4 or IPv6
  full  everything; 192.168.127.1 and .254 reach the host's 127.0.0.1
DNS answers the zone would refuse are left out; zone none answers none.
Refused connections are reported in the journal, once a minute per
destination. No ICMP leaves: the network answers every ping itself.

Its messages and QEMU's are in the unit's journal:
  journalctl --user -u virtdev-<name>`,
	Args: []cli.Arg{
		{Name: "qemu", Kind: cli.ArgFile},
		{Name: "argument", Kind: cli.ArgText, Optional: true, Repeat: true},
	},
	Options: &opts,
	Codes: []exitcode.Code{
		{N: 0, Meaning: "QEMU exited with status 0; otherwise its status is passed on"},
		{N: exitLaunch, Meaning: "QEMU could not be started"},
		{N: exitSilent, Meaning: "QEMU did not answer on QMP in time, and was killed"},
		{N: exitRecord, Meaning: "how the machine ended could not be recorded, or its runtime files removed"},
		{N: exitNoMachine, Meaning: "the working directory is not a machine's directory"},
		{N: exitPort, Meaning: "the SSH port cannot be listened on (another program holds it); QEMU was not started"},
		{N: exitNetSetup, Meaning: "the machine's network cannot be set up; QEMU was not started"},
		{N: exitNetwork, Meaning: "the machine's network failed while QEMU ran; QEMU was stopped"},
	},
	// QEMU's own status is passed on, whatever it is.
	PassThrough: true,
	// The supervisor handles SIGINT, SIGTERM and SIGHUP itself for as long
	// as it lives, which is longer than QEMU: the frame must not make a
	// second one end it.
	OwnSignals: true,
	Run:        run,
}

func main() { cli.Main(command) }

func run(env *cli.Env, args []string) error {
	// go-flags took only a zone's name.
	zone := egress.Zone(opts.Net)
	dir, err := os.Getwd()
	if err != nil {
		return cli.Wrap(exitNoMachine, err, "cannot tell the machine's directory")
	}
	if _, err := os.Stat(filepath.Join(dir, "nvram")); err != nil {
		return cli.Errorf(exitNoMachine, "%s is not a machine's directory (it has no nvram): virtdev-supervise runs in the directory of the machine whose QEMU it runs; virtdev-start starts it there", dir)
	}
	m := layout.MachineAt(filepath.Base(dir), dir)
	logf := func(format string, args ...any) {
		fmt.Fprintf(env.Stderr, "virtdev-supervise: "+format+"\n", args...)
	}
	logf("network zone %s", zone)
	sup, err := qemu.Supervise(context.Background(), m, args, qemu.SuperviseOptions{
		Notify:        unit.Notify,
		Log:           env.Stderr,
		Stdout:        env.Stdout,
		ReadyDeadline: qemu.ReadyDeadline,
		Network: func() (qemu.Network, error) {
			return netstack.New(netstack.Config{Policy: egress.Policy{Zone: zone}, SSHPort: opts.SSHPort, Log: logf})
		},
	})
	var (
		launch  *qemu.LaunchError
		silent  *qemu.SilentError
		port    *netstack.PortError
		setup   *qemu.NetworkSetupError
		network *qemu.NetworkError
	)
	switch {
	case errors.As(err, &launch):
		return cli.Errorf(exitLaunch, "%v\nThe command line is virtdev-start's; reinstall virtdev if QEMU or its path changed.", err)
	case errors.As(err, &silent):
		return cli.Errorf(exitSilent, "%v\nQEMU's messages are above.", err)
	case errors.As(err, &port):
		return cli.Errorf(exitPort, "%v\nAnother program took the port; start the machine again, and virtdev-start chooses another.", err)
	case errors.As(err, &setup):
		return cli.Errorf(exitNetSetup, "%v", err)
	case errors.As(err, &network):
		return cli.Errorf(exitNetwork, "%v", err)
	case err != nil:
		return cli.Errorf(exitRecord, "%v", err)
	}
	fmt.Fprintf(env.Stderr, "virtdev-supervise: the machine ended: %s\n", sup.Record.Describe())
	return cli.Exit(sup.Status)
}
