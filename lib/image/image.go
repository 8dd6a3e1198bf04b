// Package image drives qemu-img: thin deltas over the base, checks, and
// conversions. qemu-img is the standard tool for qcow2 and the one format
// authority; virtdev never parses or writes qcow2 itself.
package image

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
)

// Tool is the qemu-img binary; tests point it elsewhere.
var Tool = "qemu-img"

// Error is a failed qemu-img run with what it printed.
type Error struct {
	Args   []string
	Output string
	Err    error
}

func (e *Error) Error() string {
	out := strings.TrimSpace(e.Output)
	if out == "" {
		out = e.Err.Error()
	}
	return fmt.Sprintf("%s %s: %s", Tool, strings.Join(e.Args, " "), out)
}

func (e *Error) Unwrap() error { return e.Err }

func run(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, Tool, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, &Error{Args: args, Output: stderr.String() + stdout.String(), Err: err}
	}
	return stdout.Bytes(), nil
}

// Create makes an empty qcow2 image of the given size (qemu-img syntax).
func Create(ctx context.Context, path, size string) error {
	_, err := run(ctx, "create", "-q", "-f", "qcow2", path, size)
	return err
}

// CreateDelta makes a thin qcow2 delta over backing. The backing path is
// recorded as given, so an absolute path keeps the delta valid wherever the
// project directory is read from.
func CreateDelta(ctx context.Context, path, backing string) error {
	_, err := run(ctx, "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", backing, path)
	return err
}

// Check verifies an image's internal consistency.
func Check(ctx context.Context, path string) error {
	_, err := run(ctx, "check", "-q", path)
	return err
}

// Convert writes src (any format qemu-img reads) as a standalone qcow2 at
// dst, flattening any backing chain.
func Convert(ctx context.Context, src, srcFormat, dst string) error {
	_, err := run(ctx, "convert", "-q", "-f", srcFormat, "-O", "qcow2", src, dst)
	return err
}

// Info is what virtdev reads of qemu-img info.
type Info struct {
	Format              string `json:"format"`
	VirtualSize         int64  `json:"virtual-size"`
	ActualSize          int64  `json:"actual-size"`
	BackingFilename     string `json:"backing-filename"`
	FullBackingFilename string `json:"full-backing-filename"`
	BackingFormat       string `json:"backing-filename-format"`
}

// Inspect reads an image's header. -U lets it read an image a running VM
// holds open.
func Inspect(ctx context.Context, path string) (Info, error) {
	out, err := run(ctx, "info", "-U", "--output=json", path)
	if err != nil {
		return Info{}, err
	}
	var info Info
	if err := json.Unmarshal(out, &info); err != nil {
		return Info{}, fmt.Errorf("%s info %s: unreadable output: %w", Tool, path, err)
	}
	return info, nil
}
