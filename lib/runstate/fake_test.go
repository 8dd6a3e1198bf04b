package runstate

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"virtdev/lib/layout"
	"virtdev/lib/unixsock"
)

// fakeQMP is QEMU's side of a machine's monitor, one client at a time as
// QEMU serves them: it greets, sends events once the handshake is done,
// and answers query-status and query-block, each with its command's id.
type fakeQMP struct {
	state  RunState
	disks  string   // query-block's return value, as JSON
	events []string // sent after the handshake
	mu     sync.Mutex
	asked  []string // the commands, in order
}

// serveQMP serves f at path until the test ends.
func serveQMP(t *testing.T, path string, f *fakeQMP) {
	t.Helper()
	var l net.Listener
	err := unixsock.Do(path, func(addr string) error {
		var err error
		l, err = net.Listen("unix", addr)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			f.serve(c)
		}
	}()
}

func (f *fakeQMP) serve(c net.Conn) {
	defer c.Close()
	send := func(line string) { c.Write([]byte(line + "\n")) }
	send(`{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 9}, "package": ""}, "capabilities": []}}`)
	dec := json.NewDecoder(c)
	for {
		var cmd struct {
			Execute string
			ID      json.RawMessage
		}
		if dec.Decode(&cmd) != nil {
			return
		}
		f.mu.Lock()
		f.asked = append(f.asked, cmd.Execute)
		f.mu.Unlock()
		id := ""
		if cmd.ID != nil {
			id = `, "id": ` + string(cmd.ID)
		}
		switch cmd.Execute {
		case "qmp_capabilities":
			send(`{"return": {}}`)
			for _, e := range f.events {
				send(e)
			}
		case "query-status":
			send(`{"return": {"status": "` + string(f.state) + `", "singlestep": false, "running": false}` + id + `}`)
		case "query-block":
			send(`{"return": ` + f.disks + id + `}`)
		default:
			send(`{"error": {"class": "CommandNotFound", "desc": "no"}` + id + `}`)
		}
	}
}

func (f *fakeQMP) commands() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.asked, " ")
}

// machine is a machine whose monitor f serves, in a directory whose path
// is far too long for a socket address, as with a long VIRTDEV_HOME and
// project name.
func machine(t *testing.T, f *fakeQMP) layout.Machine {
	t.Helper()
	m := layout.Layout{Home: filepath.Join(t.TempDir(), strings.Repeat("h", 250))}.Project("p")
	if err := os.MkdirAll(m.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	serveQMP(t, m.Monitor, f)
	return m
}
