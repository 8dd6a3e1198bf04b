// Command virtdev-ssh-config prints OpenSSH Host blocks for projects'
// machines, for plain ssh, scp, rsync and editors.
//
//	virtdev-ssh-config [OPTIONS] [project...]
//
// With one Include line in ~/.ssh/config, ssh virtdev-<project> reaches
// the project's machine with the options virtdev-ssh uses. The blocks name
// no port: each runs virtdev-ssh-config --proxy to find it at connection
// time, so a block printed while a machine is stopped works once it runs.
package main

import (
	"fmt"
	"os"

	"virtdev/lib/cli"
	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
	"virtdev/lib/project"
	"virtdev/lib/sshx"
	"virtdev/lib/state"
)

const (
	exitPath    = 10
	exitConnect = 11
)

type options struct {
	// The ProxyCommand of the printed blocks runs this program again in
	// this mode, with the data directory the blocks were printed for.
	Proxy string `long:"proxy" hidden:"yes" value-name:"PROJECT" description:"connect to the project's SSH port and give ssh the connection"`
	Home  string `long:"home" hidden:"yes" value-name:"DIR" description:"the VIRTDEV_HOME of --proxy"`
}

var opts options

var command = cli.Command{
	Name:    "virtdev-ssh-config",
	Group:   cli.Access,
	Summary: "Print OpenSSH Host blocks that reach projects' machines as virtdev-<project>.",
	Args:    []cli.Arg{{Name: "project", Kind: cli.ArgProject, Optional: true, Repeat: true}},
	Options: &opts,
	Description: `Prints, on stdout, an OpenSSH configuration with a Host virtdev-<project> block
for each project named (every project without arguments), so that plain ssh,
scp, sftp, rsync and editors' remote-SSH features reach the machines:
  virtdev-ssh-config > ~/.config/virtdev/ssh-config.conf
then, at the top of ~/.ssh/config:
  Include ~/.config/virtdev/ssh-config.conf
and: ssh virtdev-p, scp notes.txt virtdev-p:, rsync -a src/ virtdev-p:src/.

Each block has the options virtdev-ssh gives its own connections: user dev,
$VIRTDEV_SSH_KEY and no other key, the project's own known_hosts under the
alias virtdev-<project>, no agent or X11 forwarding, no connection sharing;
and it includes the project's and the common ssh_config of ~/.config/virtdev,
as virtdev-ssh reads them. OpenSSH keeps the first value it reads for an
option, so the Include line must come before any Host * block that would set
the same options (ForwardAgent yes there would otherwise reach the guests).

A machine's port changes at every start, so the blocks name none: ssh runs
virtdev-ssh-config --proxy at each connection (ProxyCommand), which finds the
port, checks the machine runs, connects, and hands ssh the connected socket
(ProxyUseFdpass), leaving nothing in between. A block printed for a stopped
project says so in a comment and works once the machine runs. Printing the
blocks again is needed only for new projects, or when VIRTDEV_HOME or
VIRTDEV_SSH_KEY change.

The pre-ssh and post-ssh triggers run around virtdev's own connections
(virtdev-ssh, virtdev-transfer) only: plain ssh has no place for them.`,
	Codes: []exitcode.Code{
		{N: 0, Meaning: "printed (through --proxy: connected)"},
		exitcode.InvalidName, exitcode.NotFound,
		exitcode.NotRunning, exitcode.StalePort, exitcode.CorruptPort,
		{N: exitPath, Meaning: "a path cannot be written into an SSH configuration (it holds a quote or a line break)"},
		{N: exitConnect, Meaning: "through --proxy: the machine's SSH port does not take the connection"},
		exitcode.Output, exitcode.Config, exitcode.NoUserManager, exitcode.Unusable, exitcode.HomeUnusable,
	},
	Query: true,
	Run:   run,
}

func main() { cli.Main(command) }

func run(env *cli.Env, args []string) error {
	if opts.Proxy != "" {
		return proxy(env, args)
	}
	l, err := env.Layout()
	if err != nil {
		return err
	}
	var machines []layout.Machine
	if len(args) == 0 {
		entries, err := project.List(l)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.Err != nil {
				env.Warnf("%v\nNo block for it.", e.Err)
				continue
			}
			machines = append(machines, l.Project(e.Name))
		}
		if len(entries) == 0 {
			env.Infof("No projects found.")
		}
	}
	for _, name := range args {
		m, err := project.Find(l, name)
		if err != nil {
			return err
		}
		machines = append(machines, m)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("cannot find this program's own path, which the blocks run: %w", err)
	}
	fmt.Fprintf(env.Stdout, "# OpenSSH configuration for virtdev's machines, printed by virtdev-ssh-config.\n"+
		"# Include it at the top of ~/.ssh/config; see virtdev-ssh-config --help.\n")
	for _, m := range machines {
		proxy := []string{exe, "--proxy", m.Name, "--home", l.Home}
		fmt.Fprintln(env.Stdout)
		if err := sshx.HostBlock(env.Stdout, l, m, proxy, describe(m)); err != nil {
			return cli.Wrap(exitPath, err, "cannot write the block for %s", m.Name)
		}
	}
	return nil
}

// describe says whether the machine ran when the block was printed, by
// its port file: the blocks are written without asking systemd.
func describe(m layout.Machine) string {
	if port, err := project.ReadPort(m); err == nil {
		return fmt.Sprintf("%s was started, SSH on port %d; the port is looked up at each connection.", m.Name, port)
	}
	return fmt.Sprintf("%s is stopped: this block works once it runs (virtdev-start %s).", m.Name, m.Name)
}

// proxy is the ProxyCommand of the printed blocks.
func proxy(env *cli.Env, args []string) error {
	if len(args) > 0 {
		return cli.Usage("--proxy takes no arguments besides its project")
	}
	l := layout.Layout{Home: opts.Home}
	if opts.Home == "" {
		var err error
		if l, err = env.Layout(); err != nil {
			return err
		}
	}
	m, err := project.FindMachine(l, opts.Proxy)
	if err != nil {
		return err
	}
	port, err := state.CheckRunning(env.Ctx, m)
	if err != nil {
		return err
	}
	if err := sshx.Proxy(env.Ctx, port, os.Stdin, os.Stdout); err != nil {
		return cli.Wrap(exitConnect, err, "cannot connect to the SSH port %d of %s", port, m.Name)
	}
	return nil
}
