package qemu

import (
	"errors"
	"os"
	"testing"

	"virtdev/lib/layout"
)

func TestReadPID(t *testing.T) {
	m := layout.MachineAt("p", t.TempDir())
	if _, err := ReadPID(m); !errors.Is(err, ErrNoPID) {
		t.Errorf("no PID file: %v, want ErrNoPID", err)
	}
	for content, want := range map[string]int{"1234\n": 1234, "77": 77, "": 0, "x\n": 0, "-5\n": 0, "0\n": 0} {
		os.WriteFile(m.QEMUPid, []byte(content), 0o644)
		got, err := ReadPID(m)
		if got != want || (want == 0) != (err != nil) {
			t.Errorf("PID file %q: ReadPID = %d, %v; want %d", content, got, err, want)
		}
	}
}
