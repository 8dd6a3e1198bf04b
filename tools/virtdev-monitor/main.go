// Command virtdev-monitor talks to the QEMU human monitor of a running
// machine.
//
//	virtdev-monitor [OPTIONS] <project> [command...]
//
// With a command, it runs it and prints the monitor's reply on stdout:
// virtdev-monitor p info status. Without one, it reads commands from a
// terminal, with line editing and a history, or one per line from
// standard input. Every command goes over a connection of its own to the
// machine's QMP socket, so that virtdev-stop, virtdev-wait and the others
// keep reaching QEMU meanwhile.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"virtdev/lib/cli"
	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
	"virtdev/lib/qemu"
	"virtdev/lib/runstate"
	"virtdev/lib/state"
	"virtdev/lib/term"
)

const exitMonitor = 10

// How long QEMU is given to greet a connection (another client may hold
// the monitor for a moment) and to answer a command.
const (
	greetLimit   = 5 * time.Second
	commandLimit = 30 * time.Second
)

var command = cli.Command{
	Name:    "virtdev-monitor",
	Group:   cli.Inspection,
	Summary: "Run commands of QEMU's human monitor on a running machine.",
	Args: []cli.Arg{
		{Name: "project", Kind: cli.ArgMachine},
		{Name: "command", Kind: cli.ArgText, Optional: true, Repeat: true},
	},
	Description: `Talks to QEMU's human monitor (HMP) of the machine of a project (or of the
maintenance machine, named maintenance), through QMP's human-monitor-command
on the machine's monitor socket.

With a command after the project, runs it and prints the monitor's reply on
stdout; everything after the project is the command, options included:
  virtdev-monitor p info status      VM status: running
  virtdev-monitor p info block       the disks and their files
  virtdev-monitor p stop             pause the guest (status: paused)
  virtdev-monitor p cont             let it run again
  virtdev-monitor p system_powerdown press the power button
Without one, it reads commands: on a terminal with line editing and a history
(the prompt is on stderr; exit, Ctrl-D or Ctrl-C leaves), otherwise one per
line from standard input, each reply on stdout. help lists QEMU's commands.

Each command goes over a connection of its own: QEMU serves one client at a
time on the socket, and virtdev-stop, virtdev-wait, virtdev-status and other
monitors must keep reaching it between two commands. QEMU is given 5 seconds
to take the connection and 30 to answer. The human monitor answers in text
only, with no status: an unknown or failed command is its reply, exit 0.

quit ends QEMU at once, like pulling the power cord: interactively it is
asked for again; virtdev-stop powers the guest off cleanly.`,
	Codes: []exitcode.Code{
		{N: 0, Meaning: "the commands ran (the human monitor's reply says how each went)"},
		exitcode.InvalidName, exitcode.NotFound, exitcode.NotRunning, exitcode.StalePort, exitcode.CorruptPort,
		{N: exitMonitor, Meaning: "QEMU's monitor cannot be reached, is held by another client, or did not answer"},
		exitcode.Output, exitcode.Config, exitcode.NoUserManager, exitcode.Unusable,
	},
	PassThrough: true,
	Run:         run,
}

func main() { cli.Main(command) }

func run(env *cli.Env, args []string) error {
	_, m, err := env.Machine(args[0])
	if err != nil {
		return err
	}
	if _, err := state.CheckRunning(env.Ctx, m); err != nil {
		return err
	}
	s := &session{env: env, m: m}
	switch {
	case len(args) > 1:
		return s.one(strings.Join(args[1:], " "))
	case term.IsTerminal(os.Stdin):
		return s.interactive()
	}
	return s.script(env.Stdin)
}

type session struct {
	env *cli.Env
	m   layout.Machine
}

// do runs one command, explaining a failure.
func (s *session) do(line string) (string, error) {
	reply, err := qemu.HumanCommand(s.env.Ctx, s.m.Monitor, line, greetLimit, commandLimit)
	switch {
	case err == nil:
		return reply, nil
	case s.env.Ctx.Err() != nil:
		return "", s.env.Ctx.Err()
	case errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF):
		// The machine went away since it was last seen running: a QEMU
		// that runs always has its socket, and takes a connection. Its
		// unit ended, or is ending (the supervisor outlives QEMU briefly).
		if _, rerr := state.CheckRunning(s.env.Ctx, s.m); rerr != nil {
			return "", rerr
		}
		if st, serr := state.Of(s.env.Ctx, s.m); serr == nil && st.State == state.Starting {
			return "", cli.Errorf(exitMonitor, "%s is starting: QEMU's monitor is not up yet\nTry again in a moment, or wait until it answers: virtdev-wait %s", s.m.Name, s.m.Name)
		}
		return "", exitcode.New(exitcode.NotRunning, "%s is not running: its QEMU has ended (%v), and its unit is winding down\nStart it again once it has stopped: virtdev-start %s", s.m.Name, err, s.m.Name)
	case errors.Is(err, runstate.ErrMonitorBusy):
		return "", cli.Errorf(exitMonitor, "QEMU's monitor of %s did not take the connection: %v\nAnother client holds %s (QEMU serves one at a time), or QEMU is stuck; see who holds it: fuser %s",
			s.m.Name, err, s.m.Monitor, s.m.Monitor)
	}
	return "", cli.Wrap(exitMonitor, err, "cannot run %q on QEMU's monitor of %s", line, s.m.Name)
}

func (s *session) one(line string) error {
	reply, err := s.do(line)
	if err != nil {
		return err
	}
	_, err = io.WriteString(s.env.Stdout, reply)
	return err
}

// script runs the commands of r, one per line, until the end.
func (s *session) script(r io.Reader) error {
	lines := bufio.NewScanner(r)
	for lines.Scan() {
		line := strings.TrimSpace(lines.Text())
		if line == "" {
			continue
		}
		if err := s.one(line); err != nil {
			return err
		}
	}
	return lines.Err()
}

func (s *session) interactive() error {
	s.env.Infof("QEMU monitor of %s: QEMU's human monitor commands (help lists them). Leave with exit, Ctrl-D or Ctrl-C.", s.m.Name)
	editor, err := term.NewLineEditor(os.Stdin, s.env.Stderr, "(qemu) ")
	if err != nil {
		return cli.Wrap(exitMonitor, err, "cannot set up the terminal")
	}
	defer editor.Close()
	// Nothing wakes a read from the terminal: on a signal the terminal is
	// put back at once, and the program ends as an interrupted one does.
	stop := context.AfterFunc(s.env.Ctx, func() {
		editor.Close()
		fmt.Fprintln(s.env.Stderr, "\ninterrupted")
		os.Exit(exitcode.Interrupted.N)
	})
	defer stop()
	// Replies go where results go; when that is the terminal too, they
	// pass through the editor, which knows the terminal is raw.
	var replies io.Writer = editor
	if !term.IsTerminal(os.Stdout) {
		replies = s.env.Stdout
	}
	for {
		line, err := editor.ReadLine()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		line = strings.TrimSpace(line)
		switch line {
		case "":
			continue
		case "exit":
			return nil
		case "q", "quit":
			fmt.Fprintf(editor, "quit ends QEMU at once, as pulling the power cord would (virtdev-stop %s powers off cleanly).\nType quit again to do it: ", s.m.Name)
			again, err := editor.ReadLine()
			if err != nil || strings.TrimSpace(again) != "quit" {
				fmt.Fprintln(editor, "Not done.")
				continue
			}
		}
		reply, err := s.do(line)
		var failed *cli.Error
		if errors.As(err, &failed) && failed.Code == exitMonitor {
			// The machine still runs: the next command may go through.
			fmt.Fprintf(editor, "%v\n", err)
			continue
		}
		if err != nil {
			return err
		}
		if _, err := io.WriteString(replies, reply); err != nil {
			return err
		}
	}
}
