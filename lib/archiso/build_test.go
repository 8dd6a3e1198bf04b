package archiso

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeMkarchiso stands in for mkarchiso: it records its arguments, checks
// that it was given a rendered profile, and then does what behaviour says.
const fakeMkarchiso = `#!/bin/sh
set -eu
printf '%s\n' "$@" > "$FAKE_LOG"
while getopts 'vrw:o:' opt; do
	case $opt in
	w) work=$OPTARG ;;
	o) out=$OPTARG ;;
	*) ;;
	esac
done
shift $((OPTIND - 1))
profile=$1
[ -f "$profile/profiledef.sh" ] && [ -f "$profile/airootfs/root/virtdev/settings" ] || exit 9
mkdir "$work"
echo "fake mkarchiso building $profile"
case $FAKE_BEHAVIOUR in
ok) echo new > "$out/virtdev-2030.01.01-x86_64.iso"; rm -r "$work" ;;
fail) echo "error: no network" >&2; exit 3 ;;
none) rm -r "$work" ;;
two) touch "$out/a.iso" "$out/b.iso"; rm -r "$work" ;;
hang) exec sleep 30 ;;
esac
`

type fixture struct {
	build Build
	log   string // where the fake records its arguments
	out   bytes.Buffer
}

func newFixture(t *testing.T, behaviour string) *fixture {
	t.Helper()
	root := t.TempDir()
	bin := filepath.Join(root, "mkarchiso")
	if err := os.WriteFile(bin, []byte(fakeMkarchiso), 0o755); err != nil {
		t.Fatal(err)
	}
	f := &fixture{log: filepath.Join(root, "args")}
	t.Setenv("FAKE_LOG", f.log)
	t.Setenv("FAKE_BEHAVIOUR", behaviour)
	cache := filepath.Join(root, "cache")
	f.build = Build{
		Settings: testSettings(),
		Profile:  filepath.Join(cache, "profile"),
		Work:     filepath.Join(cache, "work"),
		ISO:      filepath.Join(cache, "virtdev.iso"),
		Tools:    Tools{Mkarchiso: bin},
		Stage:    func(format string, args ...any) { fmt.Fprintf(&f.out, format+"\n", args...) },
		Log:      &f.out,
	}
	return f
}

// leftovers lists what a build left in the cache besides the ISO.
func leftovers(t *testing.T, b Build) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(b.Profile))
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range entries {
		if e.Name() != filepath.Base(b.ISO) {
			left = append(left, e.Name())
		}
	}
	return left
}

func TestBuild(t *testing.T) {
	f := newFixture(t, "ok")
	if err := os.MkdirAll(filepath.Dir(f.build.ISO), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.build.ISO, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := f.build.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v\n%s", err, f.out.String())
	}
	if got := read(t, f.build.ISO); got != "new\n" {
		t.Errorf("ISO = %q, want the new image", got)
	}
	args := strings.Split(strings.TrimSpace(read(t, f.log)), "\n")
	if len(args) != 7 || !slices.Equal(args[:4], []string{"-v", "-r", "-w", f.build.Work}) || args[4] != "-o" ||
		filepath.Dir(args[5]) != filepath.Dir(f.build.ISO) || args[6] != f.build.Profile {
		t.Errorf("mkarchiso arguments: %q", args)
	}
	if left := leftovers(t, f.build); len(left) != 0 {
		t.Errorf("the build left %q in the cache", left)
	}
	if !strings.Contains(f.out.String(), "fake mkarchiso building") {
		t.Errorf("mkarchiso's output did not reach the log:\n%s", f.out.String())
	}
}

func TestBuildArgsWithSudo(t *testing.T) {
	b := Build{Profile: "/c/profile", Work: "/c/work", Tools: Tools{Mkarchiso: "/usr/bin/mkarchiso", Sudo: "/usr/bin/sudo"}}
	want := []string{"/usr/bin/sudo", "--", "/usr/bin/mkarchiso", "-v", "-r", "-w", "/c/work", "-o", "/c/out", "/c/profile"}
	if got := b.Args("/c/out"); !slices.Equal(got, want) {
		t.Errorf("Args = %q, want %q", got, want)
	}
	b.Tools.Sudo = ""
	if got := b.Args("/c/out"); !slices.Equal(got, want[2:]) {
		t.Errorf("Args as root = %q, want %q", got, want[2:])
	}
}

func TestBuildMkarchisoFails(t *testing.T) {
	f := newFixture(t, "fail")
	if err := os.MkdirAll(filepath.Dir(f.build.ISO), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.build.ISO, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := f.build.Run(context.Background())
	var merr *MkarchisoError
	if !errors.As(err, &merr) || merr.Work != f.build.Work {
		t.Fatalf("Run = %v, want a MkarchisoError", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "exit status 3") || !strings.Contains(msg, "sudo rm -rf '"+f.build.Work+"'") {
		t.Errorf("message lacks the status or the fix: %s", msg)
	}
	if !strings.Contains(f.out.String(), "error: no network") {
		t.Errorf("mkarchiso's errors did not reach the log:\n%s", f.out.String())
	}
	if got := read(t, f.build.ISO); got != "old\n" {
		t.Errorf("a failed build changed the ISO: %q", got)
	}
	// The work directory stays, and the next build refuses to reuse it.
	if left := leftovers(t, f.build); !slices.Equal(left, []string{"work"}) {
		t.Errorf("left in the cache: %q, want only the work directory", left)
	}
	os.Remove(f.log)
	err = f.build.Run(context.Background())
	var werr *WorkDirError
	if !errors.As(err, &werr) || !strings.Contains(err.Error(), "sudo rm -rf '"+f.build.Work+"'") {
		t.Fatalf("second Run = %v, want a WorkDirError with the fix", err)
	}
	if _, err := os.Stat(f.log); err == nil {
		t.Error("mkarchiso ran over a stale work directory")
	}
}

func TestBuildWithoutOneImage(t *testing.T) {
	for _, behaviour := range []string{"none", "two"} {
		t.Run(behaviour, func(t *testing.T) {
			f := newFixture(t, behaviour)
			err := f.build.Run(context.Background())
			var oerr *OutputError
			if !errors.As(err, &oerr) {
				t.Fatalf("Run = %v, want an OutputError", err)
			}
			if _, err := os.Stat(f.build.ISO); !errors.Is(err, fs.ErrNotExist) {
				t.Error("an ISO appeared")
			}
			// What mkarchiso left is kept for a look.
			if _, err := os.Stat(oerr.Dir); err != nil {
				t.Errorf("the output directory is gone: %v", err)
			}
		})
	}
}

func TestBuildRefusesBadProfileBeforeMkarchiso(t *testing.T) {
	f := newFixture(t, "ok")
	f.build.Override = t.TempDir()
	if err := f.build.Run(context.Background()); !errors.Is(err, ErrNoProfiledef) {
		t.Fatalf("Run = %v, want ErrNoProfiledef", err)
	}
	if _, err := os.Stat(f.log); err == nil {
		t.Error("mkarchiso ran without a profile")
	}
	if left := leftovers(t, f.build); len(left) != 0 {
		t.Errorf("left in the cache: %q", left)
	}
}

func TestBuildCancelled(t *testing.T) {
	f := newFixture(t, "hang")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	begin := time.Now()
	err := f.build.Run(ctx)
	var merr *MkarchisoError
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &merr) {
		t.Fatalf("Run = %v, want the context's error and the work directory named", err)
	}
	if d := time.Since(begin); d > 10*time.Second {
		t.Errorf("cancelling took %s", d)
	}
	if _, err := os.Stat(f.build.ISO); !errors.Is(err, fs.ErrNotExist) {
		t.Error("an ISO appeared")
	}
}

func TestFindTools(t *testing.T) {
	bin := t.TempDir()
	t.Setenv("PATH", bin)
	var merr *MissingToolError
	if _, err := FindTools(0); !errors.As(err, &merr) || merr.Name != "mkarchiso" {
		t.Fatalf("FindTools without mkarchiso = %v", err)
	}
	if !strings.Contains(merr.Error(), "pacman -S archiso") || !strings.Contains(merr.Error(), "virtdev-bootstrap") {
		t.Errorf("message lacks the fixes: %s", merr)
	}
	if err := os.WriteFile(filepath.Join(bin, "mkarchiso"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if tools, err := FindTools(0); err != nil || tools.Sudo != "" || tools.Mkarchiso != filepath.Join(bin, "mkarchiso") {
		t.Errorf("FindTools as root = %+v, %v", tools, err)
	}
	if _, err := FindTools(1000); !errors.As(err, &merr) || merr.Name != "sudo" {
		t.Errorf("FindTools as a user without sudo = %v", err)
	}
	if err := os.WriteFile(filepath.Join(bin, "sudo"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if tools, err := FindTools(1000); err != nil || tools.Sudo != filepath.Join(bin, "sudo") {
		t.Errorf("FindTools as a user = %+v, %v", tools, err)
	}
}

// A rendered profile an interrupted build left is replaced; a profile of
// one's own inside that directory is refused rather than removed.
func TestBuildRenderedProfileDirectory(t *testing.T) {
	f := newFixture(t, "ok")
	stale := filepath.Join(f.build.Profile, "airootfs", "stale")
	if err := os.MkdirAll(stale, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := f.build.Run(context.Background()); err != nil {
		t.Fatalf("Run over a leftover profile: %v", err)
	}
	if _, err := os.Stat(f.build.Profile); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the rendered profile was not removed: %v", err)
	}

	own := filepath.Join(f.build.Profile, "mine")
	if err := os.MkdirAll(own, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(own, "profiledef.sh"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f.build.Override = own
	err := f.build.Run(context.Background())
	var perr *ProfileError
	if !errors.As(err, &perr) || !strings.Contains(err.Error(), "copy it elsewhere") {
		t.Fatalf("Run with VIRTDEV_ISO_PROFILE inside the rendered profile = %v", err)
	}
	if _, err := os.Stat(filepath.Join(own, "profiledef.sh")); err != nil {
		t.Errorf("the user's profile was touched: %v", err)
	}
}
