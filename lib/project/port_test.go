package project

import (
	"os"
	"strings"
	"testing"

	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
)

func TestReadPort(t *testing.T) {
	l := layout.Layout{Home: t.TempDir()}
	m := l.Project("p")
	if err := os.MkdirAll(m.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPort(m); exitcode.For(err) != exitcode.NotRunning.N {
		t.Errorf("no port file: %v, want code %d", err, exitcode.NotRunning.N)
	}
	if err := WritePort(m, 2345); err != nil {
		t.Fatal(err)
	}
	if port, err := ReadPort(m); err != nil || port != 2345 {
		t.Errorf("ReadPort = %d, %v; want 2345", port, err)
	}
	for _, bad := range []string{"", "22\n", "70000\n", "2222 \n", "+2222\n", "02222\n", "2222\n\n"} {
		os.WriteFile(m.Port, []byte(bad), 0o644)
		if port, err := ReadPort(m); exitcode.For(err) != exitcode.CorruptPort.N {
			t.Errorf("%q read as %d, %v; want code %d", bad, port, err, exitcode.CorruptPort.N)
		}
	}
}

// Defect 10: a huge garbage port file is quoted by a short excerpt only.
func TestReadPortQuotesHugeFileBriefly(t *testing.T) {
	l := layout.Layout{Home: t.TempDir()}
	m := l.Project("p")
	os.MkdirAll(m.Dir, 0o700)
	garbage := strings.Repeat("\x00\xff garbage ", 300_000) // about 3 MB
	if err := os.WriteFile(m.Port, []byte(garbage), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadPort(m)
	if exitcode.For(err) != exitcode.CorruptPort.N {
		t.Fatalf("got %v, want a corrupt port file", err)
	}
	if n := len(err.Error()); n > 500 {
		t.Errorf("the message is %d bytes long:\n%.300s", n, err.Error())
	}
	if !strings.Contains(err.Error(), "…") {
		t.Errorf("the message does not show the content was cut:\n%s", err)
	}
}

func TestClaimedPorts(t *testing.T) {
	l := layout.Layout{Home: t.TempDir()}
	for name, content := range map[string]string{"a": "2222\n", "b": "2224\n", "c": "junk", "d": ""} {
		m := l.Project(name)
		os.MkdirAll(m.Dir, 0o700)
		if content != "" {
			os.WriteFile(m.Port, []byte(content), 0o644)
		}
	}
	mm := l.Machine(layout.Maintenance)
	os.MkdirAll(mm.Dir, 0o700)
	os.WriteFile(mm.Port, []byte("2223\n"), 0o644)
	got, err := ClaimedPorts(l)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]string{2222: "a", 2223: layout.Maintenance, 2224: "b"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for p, name := range want {
		if got[p] != name {
			t.Errorf("port %d claimed by %q, want %q", p, got[p], name)
		}
	}
}
