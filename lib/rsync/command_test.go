package rsync

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestRemoteAndLocal(t *testing.T) {
	c := Command{Host: "virtdev-p"}
	for path, want := range map[string]string{
		"src":         "virtdev-p:src",
		"":            "virtdev-p:",
		"~":           "virtdev-p:",
		"~/a b":       "virtdev-p:a b",
		"/etc/hosts":  "virtdev-p:/etc/hosts",
		"~other/x":    "virtdev-p:~other/x",
		"dir/":        "virtdev-p:dir/",
		"naïve café/": "virtdev-p:naïve café/",
		"a:b":         "virtdev-p:a:b",
	} {
		if got := c.Remote(path); got != want {
			t.Errorf("Remote(%q) = %q, want %q", path, got, want)
		}
	}
	for path, want := range map[string]string{
		"file":        "file",
		"a:b":         "./a:b",
		"dir/a:b":     "dir/a:b",
		"/abs/a:b":    "/abs/a:b",
		"host:path/x": "./host:path/x",
		"./a:b":       "./a:b",
	} {
		if got := Local(path); got != want {
			t.Errorf("Local(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestArgs(t *testing.T) {
	c := Command{SSHConfig: "/home/it's me/ssh_config.x", Host: "virtdev-p", Options: []string{"-a"}}
	got := c.Args([]string{"a", "-b"}, c.Remote("d"))
	want := []string{Tool, "-s", "-e", "ssh -F '/home/it''s me/ssh_config.x'", "-a", "--", "a", "-b", "virtdev-p:d"}
	if !slices.Equal(got, want) {
		t.Errorf("Args = %q\nwant   %q", got, want)
	}
	c.Progress = true
	if got := c.Args(nil, "d"); !slices.Contains(got, "--info=progress2") {
		t.Errorf("with progress: %q", got)
	}
	c.Names = true
	if got := c.Args(nil, "d"); !slices.Contains(got, "--info=progress2,name1") {
		t.Errorf("with progress and names: %q", got)
	}
}

func TestClassify(t *testing.T) {
	for status, want := range map[int]Class{
		0: 0, 23: Partial, 24: Partial, 255: Transport, 12: Transport, 10: Transport, 30: Transport,
		20: Interrupted, 130: Interrupted, 143: Interrupted, 1: Other, 11: Other, 3: Other,
	} {
		if got := Classify(status); got != want {
			t.Errorf("Classify(%d) = %v, want %v", status, got, want)
		}
	}
}

// A stand-in rsync shows what Run passes it and fails as told.
func TestCommandRun(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "rsync")
	script := "#!/bin/sh\necho \"args: $*\"\necho \"env: $VIRTDEV_PROJECT\"\necho oops >&2\nexit ${EXIT:-0}\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	defer func(old string) { Tool = old }(Tool)
	Tool = fake
	c := Command{SSHConfig: "/cfg", Host: "virtdev-p", Options: []string{"-a"}}
	var stderr bytes.Buffer
	if err := c.Run(context.Background(), []string{"src"}, c.Remote("dst"), []string{"VIRTDEV_PROJECT=p"}, &stderr); err != nil {
		t.Fatal(err)
	}
	// Everything rsync says is for people: stdout included.
	if out := stderr.String(); !strings.Contains(out, "args: -s -e ssh -F '/cfg' -a -- src virtdev-p:dst\n") ||
		!strings.Contains(out, "env: p\n") || !strings.Contains(out, "oops") {
		t.Errorf("stderr:\n%s", out)
	}
	err := c.Run(context.Background(), []string{"src"}, "dst", []string{"EXIT=23"}, &stderr)
	var failed *Error
	if !errors.As(err, &failed) || failed.Status != 23 || failed.Class != Partial {
		t.Errorf("exit 23: %v", err)
	}
	Tool = filepath.Join(dir, "none")
	if err := c.Run(context.Background(), nil, "dst", nil, &stderr); !errors.Is(err, ErrMissing) {
		t.Errorf("without rsync: %v", err)
	}
}
