package unixsock

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serve answers each connection at path with reply(question): it reads
// until the question's last byte, "\n", then writes the reply in pieces,
// and closes unless keep.
func serve(t *testing.T, path string, keep bool, reply func(question string) []string) {
	t.Helper()
	accept(bind(t, path), func(c net.Conn) {
		q, _ := readLine(c)
		for _, piece := range reply(q) {
			c.Write([]byte(piece))
			time.Sleep(time.Millisecond)
		}
		if !keep {
			c.Close()
		}
	})
}

func readLine(r io.Reader) (string, error) {
	var b []byte
	one := make([]byte, 1)
	for {
		if _, err := r.Read(one); err != nil {
			return string(b), err
		}
		if one[0] == '\n' {
			return string(b), nil
		}
		b = append(b, one[0])
	}
}

// untilLine is an Answer complete at the first "\n", kept in got.
func untilLine(got *string) Answer {
	return func(read []byte, eof bool) (bool, error) {
		line, _, ok := bytes.Cut(read, []byte("\n"))
		if ok {
			*got = string(line)
		}
		return ok, nil
	}
}

func TestExchangesAtOnce(t *testing.T) {
	dir := longDir(t)
	var exchanges []*Exchange
	got := make([]string, 3)
	for i, name := range []string{"a.sock", "b.sock", "c.sock"} {
		path := filepath.Join(dir, name)
		// The answer comes in pieces, one of them larger than a read.
		serve(t, path, true, func(q string) []string {
			return []string{"echo ", strings.Repeat("x", 10000), " ", q, "\n", "after\n"}
		})
		exchanges = append(exchanges, Start(path, []byte(name+"\n"), 5*time.Second, untilLine(&got[i])))
	}
	Wait(context.Background(), append(exchanges, nil)...)
	for i, name := range []string{"a.sock", "b.sock", "c.sock"} {
		if err := exchanges[i].Err(); err != nil {
			t.Fatal(err)
		}
		if want := "echo " + strings.Repeat("x", 10000) + " " + name; got[i] != want {
			t.Errorf("%s answered %.40q…, want %.40q…", name, got[i], want)
		}
	}
}

// An Answer may ask more on the same connection, once it has seen the
// first reply: a server that answers a line at a time hears it.
func TestExchangeSendsASequel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	l := bind(t, path)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		for {
			q, err := readLine(c)
			if err != nil {
				return
			}
			c.Write([]byte("re " + q + "\n"))
		}
	}()
	var e *Exchange
	e = Start(path, []byte("first\n"), 5*time.Second, func(read []byte, _ bool) (bool, error) {
		switch string(read) {
		case "re first\n":
			e.Send([]byte("second\n"))
		case "re first\nre second\n":
			return true, nil
		}
		return false, nil
	})
	Wait(context.Background(), e)
	if err := e.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestExchangeFailures(t *testing.T) {
	dir := t.TempDir()
	silent := filepath.Join(dir, "silent.sock")
	serve(t, silent, true, func(string) []string { return nil })
	hangsUp := filepath.Join(dir, "hangs-up.sock")
	serve(t, hangsUp, false, func(string) []string { return []string{"half an answer"} })
	refuses := filepath.Join(dir, "refuses.sock")
	serve(t, refuses, true, func(string) []string { return []string{"no\n"} })
	var ignored string
	cases := []struct {
		name string
		e    *Exchange
		want func(error) bool
	}{
		{"missing", Start(filepath.Join(dir, "none.sock"), []byte("q\n"), time.Second, untilLine(&ignored)),
			func(err error) bool {
				return errors.Is(err, fs.ErrNotExist) && strings.Contains(err.Error(), filepath.Join(dir, "none.sock"))
			}},
		{"silent", Start(silent, []byte("q\n"), 100*time.Millisecond, untilLine(&ignored)),
			func(err error) bool { return errors.Is(err, ErrTimeout) }},
		{"hangs up", Start(hangsUp, []byte("q\n"), time.Second, untilLine(&ignored)),
			func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) }},
		{"answer refused", Start(refuses, []byte("q\n"), time.Second, func(read []byte, eof bool) (bool, error) {
			if bytes.HasPrefix(read, []byte("no\n")) {
				return false, errors.New("refused")
			}
			return false, nil
		}), func(err error) bool { return err != nil && err.Error() == "refused" }},
	}
	begin := time.Now()
	var all []*Exchange
	for _, c := range cases {
		all = append(all, c.e)
	}
	Wait(context.Background(), all...)
	if took := time.Since(begin); took > 900*time.Millisecond {
		t.Errorf("the failures took %s: more than the longest timeout that should have run out", took)
	}
	for _, c := range cases {
		if err := c.e.Err(); !c.want(err) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// A socket whose queue is full is connected to again until the queue has
// room, and then the exchange goes on.
func TestExchangeWhileQueueFull(t *testing.T) {
	path := filepath.Join(t.TempDir(), "busy.sock")
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	// A backlog of 0 holds one connection, which fills it.
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	filler, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var ignored string
	full := Start(path, []byte("q\n"), 50*time.Millisecond, untilLine(&ignored))
	Wait(context.Background(), full)
	if !errors.Is(full.Err(), ErrQueueFull) {
		t.Fatalf("with the queue full throughout: %v, want ErrQueueFull", full.Err())
	}

	var got string
	later := Start(path, []byte("q\n"), 5*time.Second, untilLine(&got))
	served := make(chan struct{})
	go func() {
		defer close(served)
		time.Sleep(30 * time.Millisecond)
		filler.Close()
		// The filler's connection, then the exchange's: the only two.
		// (No more: once the test has closed fd, its number is another
		// test's.)
		for range 2 {
			c, _, err := syscall.Accept(fd)
			if err != nil {
				return
			}
			syscall.Write(c, []byte("served\n"))
			syscall.Close(c)
		}
	}()
	Wait(context.Background(), later)
	<-served
	if later.Err() != nil || got != "served" {
		t.Fatalf("once the queue had room: %q, %v", got, later.Err())
	}
}

func TestExchangeEndsWithItsContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "silent.sock")
	serve(t, path, true, func(string) []string { return nil })
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	var ignored string
	e := Start(path, []byte("q\n"), time.Minute, untilLine(&ignored))
	begin := time.Now()
	Wait(ctx, e)
	if !errors.Is(e.Err(), context.Canceled) || time.Since(begin) > 2*ctxPoll+100*time.Millisecond {
		t.Errorf("after %s: %v, want canceled within %s", time.Since(begin), e.Err(), 2*ctxPoll)
	}
}

// A server may answer and hang up without reading the whole question:
// the connection is then reset, or refuses the rest of the question, but
// the answer it sent first still counts.
func TestExchangeAnswerBeforeReset(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hasty.sock")
	accept(bind(t, path), func(c net.Conn) {
		c.Write([]byte("answer\n"))
		c.Close()
	})
	// Large enough not to fit in the socket's buffers at once.
	question := append(bytes.Repeat([]byte("q"), 4<<20), '\n')
	for range 10 {
		var got string
		e := Start(path, question, 5*time.Second, untilLine(&got))
		Wait(context.Background(), e)
		if e.Err() != nil || got != "answer" {
			t.Fatalf("got %q, %v", got, e.Err())
		}
	}
}
