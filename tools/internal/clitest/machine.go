package clitest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"virtdev/lib/layout"
	"virtdev/lib/project"
	"virtdev/lib/qemu"
)

// machine stands in for a project's running machine, without a guest to
// boot: a QEMU with no machine at all (-machine none) runs as the
// project's unit under the user manager, in the project's directory, with
// the monitor and console sockets and the PID file of a virtdev machine.
// Its monitor answers as a guest's QEMU does (query-status says running,
// the human monitor's stop pauses it), and its console takes a client. Its
// port file says 2345, unless one is there already; nothing listens there.
// Guard it with [userbus] and [tool:qemu-system-x86_64], after userbus.
//
//	machine start NAME         start it and wait for its monitor
//	machine hmp NAME COMMAND…  run a human monitor command on it
//	machine stop NAME          stop it
//
// A machine left running stops by itself after two minutes.
const standInPort = 2345

func machine(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: machine start|hmp|stop NAME [COMMAND...]")
	}
	m := layout.Layout{Home: ts.Getenv("VIRTDEV_HOME")}.Project(args[1])
	switch args[0] {
	case "start":
		if _, err := os.Stat(m.Port); err != nil {
			ts.Check(project.WritePort(m, standInPort))
		}
		ts.Check(ts.Exec("systemd-run", "--user", "--quiet", "--collect", "--property=RuntimeMaxSec=120",
			"--unit="+layout.Unit(m.Name), "--working-directory="+m.Dir,
			"qemu-system-x86_64", "-machine", "none", "-nodefaults", "-display", "none",
			"-chardev", "socket,id=qmp,server=on,wait=off,path="+filepath.Base(m.Monitor),
			"-mon", "chardev=qmp,mode=control",
			"-chardev", "socket,id="+qemu.ConsoleChardev+",server=on,wait=off,path="+filepath.Base(m.Console),
			"-pidfile", filepath.Base(m.QEMUPid)))
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if _, err := qemu.QueryStatus(context.Background(), m.Monitor, time.Second); err == nil {
				if _, err := os.Stat(m.QEMUPid); err == nil {
					return
				}
			}
			if time.Now().After(deadline) {
				ts.Fatalf("the stand-in QEMU of %s did not answer on %s", m.Name, m.Monitor)
			}
		}
	case "hmp":
		out, err := qemu.HumanCommand(context.Background(), m.Monitor, strings.Join(args[2:], " "), 5*time.Second, 5*time.Second)
		ts.Check(err)
		ts.Logf("%s", out)
	case "stop":
		ts.Check(ts.Exec("systemctl", "--user", "stop", layout.Unit(m.Name)))
		// What a machine's supervisor does once QEMU has ended.
		os.Remove(m.Port)
	default:
		ts.Fatalf("usage: machine start|hmp|stop NAME [COMMAND...]")
	}
}
