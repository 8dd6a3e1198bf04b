package runstate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"virtdev/lib/unixsock"
)

// ErrMonitorBusy is a QMP socket that accepts a connection but does not
// greet: QEMU is serving another client (or is too busy to answer).
var ErrMonitorBusy = errors.New("QMP monitor busy")

// StatusQuestion is query-status put to QEMU over a connection of its
// own: AskStatus starts it, unixsock.Wait serves it (with any other
// question a program has to put at the same time), and Status reads the
// answer. Examine's question goes on, for a machine paused on a disk
// error, to ask QEMU about its disks on the same connection.
type StatusQuestion struct {
	path     string
	exchange *unixsock.Exchange
	greeted  bool // QEMU has said anything at all
	seen     int  // bytes of whole lines looked at
	status   RunState
	// disks, when asked for, are query-block's answer for a machine
	// paused on a disk error; nil when QEMU could not tell.
	askDisks bool
	disks    []disk
}

// The question's commands, handshake and all, written at once before
// QEMU greets; the answers are known by their ids.
const (
	statusQuestion = `{"execute":"qmp_capabilities"}{"execute":"query-status","id":"status"}`
	disksQuestion  = `{"execute":"query-block","id":"disks"}`
)

// AskStatus connects to the QMP socket at path and asks QEMU's status;
// the answer is to come within timeout.
func AskStatus(path string, timeout time.Duration) *StatusQuestion {
	return askStatus(path, timeout, false)
}

func askStatus(path string, timeout time.Duration, disks bool) *StatusQuestion {
	q := &StatusQuestion{path: path, askDisks: disks}
	q.exchange = unixsock.Start(path, []byte(statusQuestion), timeout, q.answer)
	return q
}

// Exchange is what unixsock.Wait serves; nil for a nil question.
func (q *StatusQuestion) Exchange() *unixsock.Exchange {
	if q == nil {
		return nil
	}
	return q.exchange
}

// Status is QEMU's answer, once unixsock.Wait has returned. A socket
// whose queue stayed full, or a QEMU that did not greet in time, is
// ErrMonitorBusy.
func (q *StatusQuestion) Status() (RunState, error) {
	switch err := q.exchange.Err(); {
	case errors.Is(err, unixsock.ErrTimeout) && !q.greeted:
		return "", fmt.Errorf("QMP socket %s: %w: QEMU did not greet: %w", q.path, ErrMonitorBusy, err)
	case errors.Is(err, unixsock.ErrTimeout):
		return "", fmt.Errorf("QEMU did not answer query-status on %s: %w", q.path, err)
	case errors.Is(err, unixsock.ErrQueueFull):
		return "", fmt.Errorf("QMP socket %s: %w: %w", q.path, ErrMonitorBusy, err)
	case err != nil:
		return "", err
	}
	return q.status, nil
}

// answer looks through the messages read so far (greeting, handshake,
// events) for the answers, which carry the questions' ids. QEMU writes
// each message on a line of its own, and only a line that names a status,
// the disks or an error is decoded, as plain JSON values: decoding the
// rest, or into a struct (whose fields encoding/json works out by
// reflection), cost these programs more than QEMU takes to answer.
func (q *StatusQuestion) answer(read []byte, _ bool) (bool, error) {
	q.greeted = len(read) > 0
	for {
		end := bytes.IndexByte(read[q.seen:], '\n')
		if end < 0 {
			return false, nil
		}
		line := read[q.seen : q.seen+end]
		q.seen += end + 1
		if !bytes.Contains(line, []byte(`"status"`)) && !bytes.Contains(line, []byte(`"disks"`)) && !bytes.Contains(line, []byte(`"error"`)) {
			continue
		}
		var msg map[string]any
		if err := json.Unmarshal(line, &msg); err != nil {
			return false, fmt.Errorf("QMP on %s: %w", q.path, err)
		}
		failure, failed := msg["error"].(map[string]any)
		switch {
		case msg["id"] == "disks":
			// Without QEMU's word on the disks, the machine is still
			// explained by the file system under its directory.
			if !failed {
				q.disks = readDisks(line)
			}
			return true, nil
		case failed:
			return false, fmt.Errorf("QMP on %s: %v", q.path, failure["desc"])
		case msg["id"] != "status":
			continue
		}
		answer, _ := msg["return"].(map[string]any)
		status, _ := answer["status"].(string)
		if status == "" {
			data, _ := json.Marshal(msg["return"])
			return false, fmt.Errorf("unexpected answer to query-status: %.200s", data)
		}
		q.status = RunState(status)
		if q.askDisks && q.status == StateIOError {
			q.exchange.Send([]byte(disksQuestion))
			continue
		}
		return true, nil
	}
}

// diskIOStatus is how QEMU reports a disk's last error, in query-block's
// io-status.
type diskIOStatus string

const (
	diskNoSpace diskIOStatus = "nospace" // a write found the host file system full
	diskFailed  diskIOStatus = "failed"  // any other error
)

// disk is one of the machine's block devices as query-block reports it.
type disk struct {
	File     string       // the image file, as QEMU opened it
	IOStatus diskIOStatus // empty for a device that does not report it
}

// readDisks reads query-block's answer; nil when it is not one.
func readDisks(line []byte) []disk {
	var reply struct {
		Return []struct {
			IOStatus diskIOStatus `json:"io-status"`
			Inserted *struct {
				File string `json:"file"`
			} `json:"inserted"`
		} `json:"return"`
	}
	if json.Unmarshal(line, &reply) != nil {
		return nil
	}
	disks := make([]disk, 0, len(reply.Return))
	for _, d := range reply.Return {
		found := disk{IOStatus: d.IOStatus}
		if d.Inserted != nil {
			found.File = d.Inserted.File
		}
		disks = append(disks, found)
	}
	return disks
}
