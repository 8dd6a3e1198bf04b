package runstate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"virtdev/lib/layout"
	"virtdev/lib/runstate/qmptest"
)

// machine is a machine whose monitor q serves, in a directory whose path
// is far too long for a socket address, as with a long VIRTDEV_HOME and
// project name.
func machine(t *testing.T, q *qmptest.QEMU) layout.Machine {
	t.Helper()
	m := layout.Layout{Home: filepath.Join(t.TempDir(), strings.Repeat("h", 250))}.Project("p")
	if err := os.MkdirAll(m.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	qmptest.Serve(t, m.Monitor, q)
	return m
}
