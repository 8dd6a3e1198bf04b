package rsync

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestRemoteShell(t *testing.T) {
	args := Transfer{SSHConfig: "/it's/ssh_config"}.Args()
	if shell := args[slices.Index(args, "-e")+1]; shell != "ssh -F '/it''s/ssh_config'" {
		t.Errorf("-e %q", shell)
	}
}

func TestTransferArgs(t *testing.T) {
	args := Transfer{SSHConfig: "/c", Source: Command{Host: "virtdev-p"}.Remote("/home/dev/"), Dest: "/t/", Files: []string{"a", "b*/c"}, Progress: true}.Args()
	for _, want := range []string{"-e", "ssh -F '/c'", "--stats", "--info=progress2", "--relative", "--ignore-missing-args", "--no-devices"} {
		if !slices.Contains(args, want) {
			t.Errorf("args %q lack %q", args, want)
		}
	}
	if tail := args[len(args)-4:]; !slices.Equal(tail, []string{"--", "virtdev-p:/home/dev/./a", `virtdev-p:/home/dev/./b\*/c`, "/t/"}) {
		t.Errorf("args end with %q", tail)
	}
	// On the host's side, nothing expands a name.
	args = Transfer{Source: "/snap/tree/", Dest: "virtdev-p:/home/dev/", Files: []string{"b*/c"}}.Args()
	if tail := args[len(args)-2:]; !slices.Equal(tail, []string{"/snap/tree/./b*/c", "virtdev-p:/home/dev/"}) {
		t.Errorf("args end with %q", tail)
	}
}

func TestLiteral(t *testing.T) {
	for path, want := range map[string]string{
		"plain/name":       "plain/name",
		`back\slash/x`:     `back\slash/x`,
		"a*b/c?/[x]/d":     `a\*b/c\?/\[x]/d`,
		`both\and*/`:       `both\\and\*/`,
		"dir*/":            `dir\*/`,
		"spaces and 'q'/?": `spaces and 'q'/\?`,
	} {
		if got := literal(path); got != want {
			t.Errorf("literal(%q) = %q, want %q", path, got, want)
		}
	}
}

// The statistics are kept from what people see; progress goes on to them
// as it comes, each update ended as rsync ended it.
func TestOutput(t *testing.T) {
	var shown bytes.Buffer
	o := &output{w: &shown}
	for _, chunk := range []string{
		"\r      1,024  50%  1.00kB/s    0:00:00",
		"  \r      2,048 100%  2.00kB/s    0:00:00 (xfr#1, to-chk=0/2)\r\n",
		"\nNumber of files: 10,003 (reg: 10,000, dir: 3)\nNumber of created files: 3\n",
		"Number of regular files transferred: 1,234\nTotal file size: 9 bytes\nTotal transferred file size: 52,428,800 bytes\n",
		"\nsent 1 bytes  received 2 bytes  3.00 bytes/sec\ntotal size is 9  speedup is 3.00\n",
		"rsync: a message after\n",
	} {
		o.Write([]byte(chunk))
	}
	o.flush()
	want := Stats{Files: 10003, Transferred: 1234, Bytes: 52428800}
	if o.stats != want {
		t.Errorf("stats %+v, want %+v", o.stats, want)
	}
	wantShown := "\r      1,024  50%  1.00kB/s    0:00:00  \r      2,048 100%  2.00kB/s    0:00:00 (xfr#1, to-chk=0/2)\r\nrsync: a message after\n"
	if shown.String() != wantShown {
		t.Errorf("shown %q\nwant  %q", shown.String(), wantShown)
	}
}

func needRsync(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("rsync"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("rsync is not installed, and CI is set (.ci/packages lists it)")
		}
		t.Skip("rsync is not installed")
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
}

// A real rsync, here to here: exactly the files listed, names rsync would
// take for comments included, what is missing skipped and counted out.
func TestRunFiles(t *testing.T) {
	needRsync(t)
	src, dst := t.TempDir(), t.TempDir()
	if err := os.Chmod(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(src, "#hash"), "h")
	write(t, filepath.Join(src, ";semi"), "s")
	write(t, filepath.Join(src, "dir", "sub", "f"), "f")
	write(t, filepath.Join(src, "not listed"), "n")
	if err := os.Symlink("dir/sub/f", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	var shown bytes.Buffer
	stats, err := Transfer{
		SSHConfig: "/unused", Source: src + "/", Dest: dst + "/",
		Files: []string{"#hash", ";semi", "dir/", "link", "missing"}, Output: &shown,
	}.Run(context.Background())
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, shown.String())
	}
	for _, name := range []string{"#hash", ";semi", "dir/sub/f", "link"} {
		if _, err := os.Lstat(filepath.Join(dst, name)); err != nil {
			t.Errorf("%s was not transferred: %v", name, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(dst, "not listed")); err == nil {
		t.Error("a path that was not listed was transferred")
	}
	if target, _ := os.Readlink(filepath.Join(dst, "link")); target != "dir/sub/f" {
		t.Errorf("the link points to %q", target)
	}
	if info, err := os.Stat(filepath.Join(dst, "dir", "sub", "f")); err != nil || info.Mode().Perm() != 0o640 {
		t.Errorf("the mode was not kept: %v, %v", info, err)
	}
	if info, _ := os.Stat(dst); info.Mode().Perm() != 0o700 {
		t.Errorf("the destination's own mode changed to %v", info.Mode())
	}
	// #hash, ;semi, dir, dir/sub, dir/sub/f, link.
	if want := (Stats{Files: 6, Transferred: 3, Bytes: 3}); stats != want {
		t.Errorf("stats %+v, want %+v", stats, want)
	}
	if shown.Len() != 0 {
		t.Errorf("without progress, rsync showed %q", shown.String())
	}

	stats, err = Transfer{SSHConfig: "/unused", Source: src + "/", Dest: t.TempDir() + "/", Files: []string{"gone", "also/gone/"}}.Run(context.Background())
	if err != nil || stats.Files != 0 {
		t.Errorf("only missing paths: %+v, %v; want no files and no error", stats, err)
	}
}

// A real rsync at both ends, the machine's reached through an ssh that
// runs it here: a listed name with wildcards in it is that file alone,
// whatever else they would match.
func TestRunRemoteNames(t *testing.T) {
	needRsync(t)
	bin, src, dst := t.TempDir(), t.TempDir(), t.TempDir()
	// ssh -F config host command...: as sshd does, the words joined are
	// the command a shell runs.
	write(t, filepath.Join(bin, "ssh"), "#!/bin/sh\nshift 3\ncd \"$GUEST_HOME\" && exec sh -c \"$*\"\n")
	if err := os.Chmod(filepath.Join(bin, "ssh"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	home := t.TempDir()
	t.Setenv("GUEST_HOME", home)
	// An environment asking for rsync's old, unescaped arguments changes
	// nothing.
	t.Setenv("RSYNC_OLD_ARGS", "1")
	for _, name := range []string{"a*b", "aXb", "q?", "qZ", "[x]", "x", `back\slash`, "dir*/f", "dirY/f", "two words", "$(touch pwned)"} {
		write(t, filepath.Join(src, name), name)
	}
	stats, err := Transfer{
		SSHConfig: "/unused", Source: Command{Host: "virtdev-p"}.Remote(src + "/"), Dest: dst + "/",
		Files: []string{"a*b", "q?", "[x]", `back\slash`, "dir*/", "missing*", "two words", "$(touch pwned)"},
	}.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	filepath.WalkDir(dst, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dst, path)
			got = append(got, rel)
		}
		return err
	})
	if want := []string{"$(touch pwned)", "[x]", "a*b", `back\slash`, "dir*/f", "q?", "two words"}; !slices.Equal(got, want) {
		t.Errorf("transferred %q, want %q", got, want)
	}
	if stats.Files != 8 {
		t.Errorf("stats %+v, want 8 files (dir* and what is in it)", stats)
	}
	if _, err := os.Stat(filepath.Join(home, "pwned")); err == nil {
		t.Error("a name was run by the shell")
	}
}

// rsync's exit status, and a signal's, become an *Error with its class.
func TestRunFails(t *testing.T) {
	bin := t.TempDir()
	write(t, filepath.Join(bin, "rsync"), "#!/bin/sh\necho 'Number of regular files transferred: 2' \necho 'rsync: some files could not be read' >&2\nexit ${STATUS:-23}\n")
	if err := os.Chmod(filepath.Join(bin, "rsync"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":/usr/bin:/bin")
	var shown bytes.Buffer
	_, err := Transfer{SSHConfig: "/c", Source: "a", Dest: "b", Output: &shown}.Run(context.Background())
	var failed *Error
	if !errors.As(err, &failed) || failed.Status != 23 || failed.Class != Partial {
		t.Fatalf("Run = %v, want a partial transfer", err)
	}
	if !strings.Contains(shown.String(), "some files could not be read") {
		t.Errorf("rsync's message was not shown: %q", shown.String())
	}
	t.Setenv("STATUS", "255")
	if _, err := (Transfer{SSHConfig: "/c", Source: "a", Dest: "b"}).Run(context.Background()); !errors.As(err, &failed) || failed.Class != Transport {
		t.Errorf("exit 255: %v, want a transport failure", err)
	}

	t.Setenv("PATH", t.TempDir())
	if err := Check(); !errors.Is(err, ErrMissing) {
		t.Errorf("Check without rsync: %v", err)
	}
	if _, err := (Transfer{}).Run(context.Background()); !errors.Is(err, ErrMissing) {
		t.Errorf("Run without rsync: %v", err)
	}
}

func TestRunCancelled(t *testing.T) {
	bin := t.TempDir()
	write(t, filepath.Join(bin, "rsync"), "#!/bin/sh\nexec sleep 30\n")
	if err := os.Chmod(filepath.Join(bin, "rsync"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":/usr/bin:/bin")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (Transfer{SSHConfig: "/c", Source: "a", Dest: "b"}).Run(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Run with a cancelled context = %v", err)
	}
}

// A symbolic link at the destination where the source has a directory is
// replaced, never followed: a restore writes nowhere a link in the guest
// points to.
func TestRunReplacesLinks(t *testing.T) {
	needRsync(t)
	src, dst, elsewhere := t.TempDir(), t.TempDir(), t.TempDir()
	write(t, filepath.Join(src, "d", "file"), "x")
	write(t, filepath.Join(src, "a", "b", "g"), "y")
	for _, name := range []string{"d", "a"} {
		if err := os.Symlink(elsewhere, filepath.Join(dst, name)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := (Transfer{SSHConfig: "/unused", Source: src + "/", Dest: dst + "/", Files: []string{"d/", "a/b/g"}}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
		t.Errorf("rsync wrote through a link: %v", entries)
	}
	for _, name := range []string{"d/file", "a/b/g"} {
		if info, err := os.Lstat(filepath.Join(dst, filepath.Dir(name))); err != nil || !info.IsDir() {
			t.Errorf("%s: the link was not replaced by a directory: %v, %v", name, info, err)
		}
	}
}
