package unixsock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// An Exchange is one question put to a socket, and its answer: Start
// connects and writes the question at once, and Wait reads until the
// caller's Answer has what it waits for.
//
// It exists for the programs that only look at machines. virtdev-status
// asks systemd (over the user bus) and QEMU (over its monitor) at the same
// time, and its whole run is a few milliseconds, of which the start of
// Go's network poller, a goroutine per connection and the hand-offs
// between them were a tenth. Wait serves every exchange on the calling
// goroutine with poll(2) instead, and nothing else runs meanwhile.
type Exchange struct {
	path     string
	answer   Answer
	timeout  time.Duration
	deadline time.Time
	fd       int       // -1 when not connected
	retry    time.Time // when to connect again, after a full queue
	unsent   []byte
	read     []byte
	over     bool
	err      error
	// failed is why the connection broke; what came before it is still
	// looked at for the answer.
	failed error
}

// Answer is given everything read so far, each time more arrives, and
// says whether the answer is complete. eof is true once the other end has
// closed the connection: nothing more will come.
type Answer func(read []byte, eof bool) (done bool, err error)

// Errors of an exchange, besides those of the system and of its Answer.
var (
	// ErrTimeout: no complete answer came within the exchange's timeout.
	ErrTimeout = errors.New("no answer in time")
	// ErrQueueFull: the socket's queue of connections waiting to be
	// accepted stayed full (EAGAIN) for the whole timeout.
	ErrQueueFull = errors.New("its queue of connections stayed full")
)

const (
	// queueRetry is how often a connection refused for a full queue is
	// tried again: a server that serves one client at a time, as QEMU's
	// monitor does, frees it within moments of short connections.
	queueRetry = 10 * time.Millisecond
	// ctxPoll bounds each wait in poll(2), for Wait to see its context
	// end: the signals that end it may reach another thread.
	ctxPoll = 50 * time.Millisecond
	// maxRead bounds what is read without a complete answer.
	maxRead = 8 << 20
)

// Start connects to the socket at path and writes question, without
// waiting; Wait does the rest, within timeout from now. Any failure is
// the exchange's Err once Wait returns.
func Start(path string, question []byte, timeout time.Duration, answer Answer) *Exchange {
	now := time.Now()
	e := &Exchange{path: path, answer: answer, timeout: timeout, deadline: now.Add(timeout), fd: -1, unsent: question}
	e.connect(now)
	return e
}

// Send adds more to be written on the connection, for an Answer that
// finds its question needs a sequel: Wait writes it, in order, after what
// is still unsent.
func (e *Exchange) Send(more []byte) { e.unsent = append(e.unsent, more...) }

// Err is why the exchange failed, or nil once its answer is complete.
func (e *Exchange) Err() error { return e.err }

func (e *Exchange) connect(now time.Time) {
	fd, err := connect(e.path)
	switch {
	case errors.Is(err, unix.EAGAIN):
		e.retry = now.Add(queueRetry)
	case err != nil:
		e.end(err)
	default:
		e.fd = fd
		e.write()
	}
}

// write sends what the socket takes now of what remains to be sent.
func (e *Exchange) write() {
	for len(e.unsent) > 0 {
		// MSG_NOSIGNAL: a server gone away is an error here, not a
		// SIGPIPE.
		n, err := unix.SendmsgN(e.fd, e.unsent, nil, nil, unix.MSG_NOSIGNAL)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			return
		case err != nil:
			// A server may answer and hang up before it has read
			// everything (EPIPE): its answer may still be there to read.
			e.failed = fmt.Errorf("writing to %s: %w", e.path, err)
			e.unsent = nil
			return
		}
		e.unsent = e.unsent[n:]
	}
}

// receive reads what has arrived and hands it to the answer.
func (e *Exchange) receive() {
	eof := false
	for {
		if len(e.read) == cap(e.read) {
			if len(e.read) >= maxRead {
				e.end(fmt.Errorf("%s sent %d bytes without a complete answer", e.path, len(e.read)))
				return
			}
			e.read = slices.Grow(e.read, max(4096, len(e.read)))
		}
		n, err := unix.Read(e.fd, e.read[len(e.read):cap(e.read)])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if errors.Is(err, unix.EAGAIN) {
			break
		}
		if err != nil {
			// A server that hangs up without reading all it was sent
			// resets the connection (ECONNRESET), after what it wrote.
			if e.failed == nil {
				e.failed = fmt.Errorf("reading from %s: %w", e.path, err)
			}
			eof = true
			break
		}
		if n == 0 {
			eof = true
			break
		}
		e.read = e.read[:len(e.read)+n]
	}
	done, err := e.answer(e.read, eof)
	switch {
	case err != nil:
		e.end(err)
	case done:
		e.end(nil)
	case e.failed != nil && eof:
		e.end(e.failed)
	case eof:
		e.end(fmt.Errorf("%s closed the connection before answering: %w", e.path, io.ErrUnexpectedEOF))
	}
}

func (e *Exchange) end(err error) {
	if e.fd >= 0 {
		unix.Close(e.fd)
		e.fd = -1
	}
	e.over, e.err = true, err
}

// Wait serves the exchanges until each has its answer or has failed: its
// timeout passed, or ctx ended. Nil exchanges are skipped.
func Wait(ctx context.Context, exchanges ...*Exchange) {
	fds := make([]unix.PollFd, 0, len(exchanges))
	polled := make([]*Exchange, 0, len(exchanges))
	for {
		fds, polled = fds[:0], polled[:0]
		now := time.Now()
		wake := now.Add(ctxPoll)
		waiting := false
		for _, e := range exchanges {
			switch {
			case e == nil || e.over:
				continue
			case ctx.Err() != nil:
				e.end(ctx.Err())
				continue
			case !now.Before(e.deadline):
				why := ErrTimeout
				if e.fd < 0 {
					why = ErrQueueFull
				}
				e.end(fmt.Errorf("%s: %w within %s", e.path, why, e.timeout))
				continue
			case e.fd < 0 && !now.Before(e.retry):
				e.connect(now)
				if e.over {
					continue
				}
			}
			waiting = true
			wake = earliest(wake, e.deadline)
			if e.fd < 0 {
				wake = earliest(wake, e.retry)
				continue
			}
			events := int16(unix.POLLIN)
			if len(e.unsent) > 0 {
				events |= unix.POLLOUT
			}
			fds = append(fds, unix.PollFd{Fd: int32(e.fd), Events: events})
			polled = append(polled, e)
		}
		if !waiting {
			return
		}
		ms := int((wake.Sub(now) + time.Millisecond - 1) / time.Millisecond)
		if _, err := unix.Poll(fds, ms); err != nil && !errors.Is(err, unix.EINTR) {
			for _, e := range polled {
				e.end(fmt.Errorf("waiting for %s: %w", e.path, err))
			}
			continue
		}
		for i, f := range fds {
			e := polled[i]
			if f.Revents&unix.POLLOUT != 0 {
				e.write()
			}
			if !e.over && f.Revents&(unix.POLLIN|unix.POLLHUP|unix.POLLERR) != 0 {
				e.receive()
			}
		}
	}
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
