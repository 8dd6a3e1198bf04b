//go:build e2e

package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// terminal is a program running on a pseudo-terminal of its own, as on a
// user's terminal: what it shows is collected, what is sent is typed.
type terminal struct {
	program string
	master  *os.File
	cmd     *exec.Cmd
	out     *lockedBuffer
	done    chan struct{}
	waitErr error // once done is closed
}

// onTerminal starts a virtdev program on a new pseudo-terminal, as the
// session leader with that terminal as its controlling one. It is killed
// when the test ends, if it still runs.
func (s *suite) onTerminal(t *testing.T, program string, args ...string) *terminal {
	t.Helper()
	master, slave, err := openPTY()
	if err != nil {
		t.Fatalf("no pseudo-terminal: %v", err)
	}
	cmd := exec.Command(filepath.Join(s.bin, program), args...)
	cmd.Env = append(s.env, "TERM=xterm-256color")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	term := &terminal{program: program, master: master, cmd: cmd, out: &lockedBuffer{}, done: make(chan struct{})}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			term.out.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	go func() {
		term.waitErr = cmd.Wait()
		close(term.done)
	}()
	t.Cleanup(func() {
		select {
		case <-term.done:
		default:
			cmd.Process.Kill()
			<-term.done
		}
		master.Close()
		t.Logf("%s on its terminal showed:\n%s", program, term.out)
	})
	return term
}

// send types text.
func (term *terminal) send(t *testing.T, text string) {
	t.Helper()
	if _, err := term.master.Write([]byte(text)); err != nil {
		t.Fatalf("typing into %s: %v", term.program, err)
	}
}

// expect waits until the terminal has shown want.
func (term *terminal) expect(t *testing.T, want string, timeout time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !strings.Contains(term.out.String(), want); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not show %q within %s; it showed:\n%s", term.program, want, timeout, term.out)
		}
	}
}

// wait waits for the program to end and returns its exit status.
func (term *terminal) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-term.done:
	case <-time.After(timeout):
		t.Fatalf("%s did not end within %s; it showed:\n%s", term.program, timeout, term.out)
	}
	var exit *exec.ExitError
	if err := term.waitErr; err != nil && !errors.As(err, &exit) {
		t.Fatalf("%s: %v", term.program, err)
	}
	return term.cmd.ProcessState.ExitCode()
}

// openPTY opens a new pseudo-terminal pair.
func openPTY() (master, slave *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, err
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	slave, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	return master, slave, nil
}
