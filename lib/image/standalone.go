package image

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os/exec"
	"strconv"
	"strings"
)

// Progress receives how far a long qemu-img run has got, in percent.
type Progress func(percent float64)

// Flatten writes the qcow2 image src, with everything its backing chain
// provides, as a standalone qcow2 at dst. progress, when not nil, hears
// qemu-img's own progress.
func Flatten(ctx context.Context, src, dst string, progress Progress) error {
	return runProgress(ctx, progress, "convert", "-f", "qcow2", "-O", "qcow2", src, dst)
}

// Unbase copies into the qcow2 image path everything its backing chain
// provides and then drops the backing file: the image becomes standalone
// in place (qemu-img rebase -b ""). qemu-img writes the header last, so an
// image whose rebase was cut short still names its backing file.
func Unbase(ctx context.Context, path string, progress Progress) error {
	return runProgress(ctx, progress, "rebase", "-f", "qcow2", "-b", "", path)
}

// runProgress runs qemu-img, with -p when someone listens for progress,
// which qemu-img prints as "    (12.34/100%)\r" on stdout.
func runProgress(ctx context.Context, progress Progress, args ...string) error {
	if progress == nil {
		_, err := run(ctx, append(args[:1:1], append([]string{"-q"}, args[1:]...)...)...)
		return err
	}
	args = append(args[:1:1], append([]string{"-p"}, args[1:]...)...)
	cmd := exec.CommandContext(ctx, Tool, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return &Error{Args: args, Err: err}
	}
	readProgress(out, progress)
	if err := cmd.Wait(); err != nil {
		return &Error{Args: args, Output: stderr.String(), Err: err}
	}
	return nil
}

// readProgress hands on every percentage qemu-img reports until its
// output ends.
func readProgress(r io.Reader, progress Progress) {
	scan := bufio.NewScanner(r)
	scan.Split(splitCR)
	for scan.Scan() {
		field := strings.TrimSpace(scan.Text())
		field = strings.TrimPrefix(field, "(")
		number, _, ok := strings.Cut(field, "/100%)")
		if !ok {
			continue
		}
		if pct, err := strconv.ParseFloat(number, 64); err == nil {
			progress(pct)
		}
	}
	io.Copy(io.Discard, r)
}

// splitCR splits at carriage returns and newlines: qemu-img rewrites its
// progress line in place.
func splitCR(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}
