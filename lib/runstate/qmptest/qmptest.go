// Package qmptest serves QEMU's side of a machine's QMP monitor for tests
// of the programs that ask QEMU how its guest is, without a QEMU: it
// greets, sends events once the handshake is done, and answers
// query-status and query-block, each with its command's id, one client
// at a time as QEMU serves them.
package qmptest

import (
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"

	"virtdev/lib/unixsock"
)

// QEMU is the fake QEMU's guest, as its monitor reports it.
type QEMU struct {
	State  string   // query-status's status
	Disks  string   // query-block's return value, as JSON
	Events []string // sent after the handshake, each a whole message

	mu    sync.Mutex
	asked []string // the commands, in order
}

// Serve serves q at path until the test ends. The socket is bound as
// QEMU binds it, by a name in its directory, so that a test directory too
// deep for a socket address does not matter.
func Serve(t testing.TB, path string, q *QEMU) {
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
			q.serve(c)
		}
	}()
}

func (q *QEMU) serve(c net.Conn) {
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
		q.mu.Lock()
		q.asked = append(q.asked, cmd.Execute)
		q.mu.Unlock()
		id := ""
		if cmd.ID != nil {
			id = `, "id": ` + string(cmd.ID)
		}
		switch cmd.Execute {
		case "qmp_capabilities":
			send(`{"return": {}}`)
			for _, e := range q.Events {
				send(e)
			}
		case "query-status":
			send(`{"return": {"status": "` + q.State + `", "singlestep": false, "running": false}` + id + `}`)
		case "query-block":
			send(`{"return": ` + q.Disks + id + `}`)
		default:
			send(`{"error": {"class": "CommandNotFound", "desc": "no"}` + id + `}`)
		}
	}
}

// Commands are the commands asked so far, in order, joined by spaces.
func (q *QEMU) Commands() string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return strings.Join(q.asked, " ")
}
