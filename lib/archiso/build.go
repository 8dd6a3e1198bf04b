package archiso

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"virtdev/lib/guest"
)

// MissingToolError is a host program the build needs and cannot find.
type MissingToolError struct {
	Name    string
	Package string // the Arch package that provides it
}

func (e *MissingToolError) Error() string {
	if e.Name == "mkarchiso" {
		return "mkarchiso not found in PATH: building the Arch ISO needs Arch's archiso, which runs on an Arch Linux host\n" +
			"Install it (Arch): sudo pacman -S archiso\n" +
			"Elsewhere, build a Debian base without an ISO instead: virtdev-bootstrap"
	}
	return fmt.Sprintf("%s not found in PATH: mkarchiso needs root, and %s runs it as root for an unprivileged user\n"+
		"Install it (Arch): sudo pacman -S %s, or run the build as root", e.Name, e.Name, e.Package)
}

// Tools are the resolved host programs of a build.
type Tools struct {
	Mkarchiso string
	// Sudo runs mkarchiso as root for an unprivileged user; empty when the
	// build already runs as root.
	Sudo string
}

// FindTools looks mkarchiso up, and sudo too unless euid is root's.
func FindTools(euid int) (Tools, error) {
	var t Tools
	var err error
	if t.Mkarchiso, err = exec.LookPath("mkarchiso"); err != nil {
		return t, &MissingToolError{"mkarchiso", "archiso"}
	}
	if euid != 0 {
		if t.Sudo, err = exec.LookPath("sudo"); err != nil {
			return t, &MissingToolError{"sudo", "sudo"}
		}
	}
	return t, nil
}

// WorkDirError is mkarchiso's work directory left by an earlier build.
// mkarchiso skips the steps whose marks it finds there, so it would build
// from stale parts; the files in it belong to root.
type WorkDirError struct{ Path string }

func (e *WorkDirError) Error() string {
	return fmt.Sprintf("mkarchiso's work directory %s is left from an earlier build that did not finish\n"+
		"Remove it (its files belong to root): sudo rm -rf %s", e.Path, guest.Quote(e.Path))
}

// MkarchisoError is mkarchiso failing, or being stopped once it had
// started work (Err is then the context's error).
type MkarchisoError struct {
	Err  error
	Work string // kept for inspection
}

func (e *MkarchisoError) Error() string {
	return fmt.Sprintf("mkarchiso did not finish (%v); its output is above\n"+
		"Its work directory %s is kept for inspection; remove it before the next build: sudo rm -rf %s",
		e.Err, e.Work, guest.Quote(e.Work))
}

func (e *MkarchisoError) Unwrap() error { return e.Err }

// OutputError is a build that succeeded without leaving exactly one ISO.
type OutputError struct {
	Dir   string
	Found []string
}

func (e *OutputError) Error() string {
	return fmt.Sprintf("mkarchiso succeeded but left %d ISO images in %s, not one: %v\n"+
		"They are kept for inspection; remove the directory when done: rm -rf %s", len(e.Found), e.Dir, e.Found, guest.Quote(e.Dir))
}

// Build describes one ISO to build.
type Build struct {
	Settings Settings
	Override string // VIRTDEV_ISO_PROFILE: a profile directory to use instead of virtdev's own
	Profile  string // where the profile is rendered (layout.ISOProfile); replaced, then removed
	Work     string // mkarchiso's work directory (layout.ISOWork), which must not exist
	ISO      string // VIRTDEV_ISO: where the image goes
	Tools    Tools
	Stage    func(format string, args ...any)
	Log      io.Writer // mkarchiso's own output
}

// Args is the command that builds the ISO from the rendered profile into
// the directory out. -r removes the work directory once the image is made,
// so that only a build that did not finish leaves it.
func (b Build) Args(out string) []string {
	args := []string{b.Tools.Mkarchiso, "-v", "-r", "-w", b.Work, "-o", out, b.Profile}
	if b.Tools.Sudo != "" {
		args = append([]string{b.Tools.Sudo, "--"}, args...)
	}
	return args
}

// Run renders the profile and runs mkarchiso. The image is written to a
// directory beside b.ISO and renamed into place, so b.ISO is always either
// the old image or the new one. The rendered profile goes in every case;
// after a failure the work directory stays for inspection, and
// MkarchisoError says how to remove it.
func (b Build) Run(ctx context.Context) (err error) {
	if b.Tools.Mkarchiso == "" {
		return &MissingToolError{"mkarchiso", "archiso"}
	}
	if _, err := os.Lstat(b.Work); err == nil {
		return &WorkDirError{b.Work}
	}
	if b.Override != "" && within(b.Override, b.Profile) {
		return &ProfileError{b.Override, fmt.Errorf("it is inside %s, which every build replaces with the rendered profile; copy it elsewhere", b.Profile)}
	}
	// What is there is the rendered copy an interrupted build left.
	if err := os.RemoveAll(b.Profile); err != nil {
		return &ProfileError{b.Profile, err}
	}
	if err := os.MkdirAll(filepath.Dir(b.Profile), 0o755); err != nil {
		return &ProfileError{b.Profile, err}
	}
	defer func() { err = errors.Join(err, os.RemoveAll(b.Profile)) }()
	source := "virtdev's own profile"
	if b.Override != "" {
		source = b.Override
	}
	b.Stage("Rendering %s into %s", source, b.Profile)
	if err := Render(b.Profile, b.Override, b.Settings); err != nil {
		return err
	}

	if err := os.MkdirAll(filepath.Dir(b.ISO), 0o755); err != nil {
		return err
	}
	out, err := os.MkdirTemp(filepath.Dir(b.ISO), "."+filepath.Base(b.ISO)+"-")
	if err != nil {
		return err
	}
	// mkarchiso's image belongs to root when sudo ran it, but the
	// directory is the user's, so the user can remove what is in it. Only
	// images that are not what was expected stay, for inspection.
	defer func() {
		var oerr *OutputError
		if !errors.As(err, &oerr) {
			err = errors.Join(err, os.RemoveAll(out))
		}
	}()
	args := b.Args(out)
	b.Stage("Building the ISO with mkarchiso (work directory %s)", b.Work)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = b.Log, b.Log
	// Stopped with SIGTERM, which sudo passes on, pacstrap inside
	// mkarchiso still unmounts what it mounted.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = time.Minute
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		if _, serr := os.Lstat(b.Work); serr != nil && ctx.Err() != nil {
			return err // stopped before it made anything
		}
		return &MkarchisoError{err, b.Work}
	}
	images, err := filepath.Glob(filepath.Join(out, "*.iso"))
	if err != nil {
		return err
	}
	if len(images) != 1 {
		return &OutputError{out, images}
	}
	if err := os.Rename(images[0], b.ISO); err != nil {
		return fmt.Errorf("cannot move the new ISO into place: %w", err)
	}
	b.Stage("Built %s", b.ISO)
	return nil
}

// within reports whether path is dir or lies below it, symbolic links
// resolved as far as they exist.
func within(path, dir string) bool {
	resolve := func(p string) string {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return r
		}
		return filepath.Clean(p)
	}
	rel, err := filepath.Rel(resolve(dir), resolve(path))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}
