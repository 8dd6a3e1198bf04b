package rsync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// Transfer is one run of rsync over a list of paths, whose statistics are
// read back (backup and restore).
type Transfer struct {
	// SSHConfig is the connection's OpenSSH configuration: rsync reaches
	// the machine with ssh -F SSHConfig, never ~/.ssh/config.
	SSHConfig string
	// Source and Dest are rsync's: the machine's side is
	// Command{Host: alias}.Remote(path).
	Source, Dest string
	// Files, when set, are exactly the paths to transfer, relative to
	// Source, each with what lies under it and kept at the same path
	// under Dest. Paths that do not exist are skipped without an error;
	// Stats.Files tells whether any did.
	Files []string
	// Options are rsync options added to Archive.
	Options []string
	// Progress shows the whole transfer's progress on Output.
	Progress bool
	// Output gets rsync's messages for people, and its progress (stderr).
	Output io.Writer
	// Env is rsync's environment (nil: the caller's); ssh inherits it.
	Env []string
}

// Archive are the options every transfer has: the tree as it is (files,
// directories, symbolic links as links, permissions, times), without owners
// and groups, which mean different users on the host and in the guest, nor
// device files and sockets, which have no business in a copy of a home.
var Archive = []string{"--recursive", "--links", "--perms", "--times", "--no-devices", "--no-specials"}

// Stats is what rsync reports of a transfer (its --stats).
type Stats struct {
	Files       int   // entries found at the source: files, directories, links
	Transferred int   // regular files whose content was sent
	Bytes       int64 // the size of the files sent
}

// Args is rsync's argv after the program name.
//
// Files are source arguments, Source/./path with --relative (what follows
// "/./" is recreated under Dest), on the machine's rsync command line,
// where rsync escapes them from the machine's shell (see Run). They are
// not sent over rsync's protocol (-s): on the command line they say what
// is read or written to whatever sees the command the machine runs (a
// restricted shell, which refuses -s; the machine's logs; the tools'
// tests, whose stand-in for ssh maps /home/dev onto a host directory).
// They are not a --files-from list: rsync 3.5's
// sender reaches every file under paths listed that way component by
// component (7 opens and 8 stats a file, against 3 and 2), which in a guest
// under emulation made a backup of 10,000 small files take 1.5 to 2
// seconds longer than rsync of their directory (bench/backup.sh).
func (t Transfer) Args() []string {
	args := append([]string{"-e", remoteShell(t.SSHConfig)}, Archive...)
	args = append(args, t.Options...)
	// The statistics are read back (Stats), for the program; the
	// progress is for people.
	args = append(args, "--stats")
	if t.Progress {
		args = append(args, "--info=progress2")
	}
	if t.Files == nil {
		return append(args, "--", t.Source, t.Dest)
	}
	args = append(args, "--relative", "--ignore-missing-args", "--")
	for _, f := range t.Files {
		if remote(t.Source) {
			f = literal(f)
		}
		args = append(args, strings.TrimSuffix(t.Source, "/")+"/./"+f)
	}
	return append(args, t.Dest)
}

// literal keeps the rsync on the machine's side from reading a path as a
// pattern: it expands the *, ? and [ of the arguments it is sent, one
// path component at a time, and a component that holds one of them is
// matched with a backslash making the next character literal.
func literal(path string) string {
	parts := strings.Split(path, "/")
	for i, part := range parts {
		if !strings.ContainsAny(part, "*?[") {
			continue // taken as it is, backslashes included
		}
		var b strings.Builder
		for _, r := range part {
			if strings.ContainsRune(`*?[\`, r) {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
		parts[i] = b.String()
	}
	return strings.Join(parts, "/")
}

// Run runs the transfer and returns rsync's statistics. A failed transfer
// is an *Error; a cancelled context ends rsync and returns the context's
// error.
func (t Transfer) Run(ctx context.Context) (Stats, error) {
	path, err := exec.LookPath(Tool)
	if err != nil {
		return Stats{}, ErrMissing
	}
	cmd := exec.CommandContext(ctx, path, t.Args()...)
	env := t.Env
	if env == nil {
		env = os.Environ()
	}
	// The statistics are parsed: in English, whatever the user's locale.
	// RSYNC_OLD_ARGS=0: the arguments for the machine are escaped from its
	// shell (rsync's default since 3.2.4) whatever the caller's environment
	// says, so that no path is split or expanded there.
	cmd.Env = append(env, "LC_ALL=C", "RSYNC_OLD_ARGS=0")
	out := &output{w: t.Output}
	if out.w == nil {
		out.w = io.Discard
	}
	cmd.Stdout, cmd.Stderr = out, t.Output
	err = run(cmd)
	out.flush()
	if ctx.Err() != nil {
		return out.stats, ctx.Err()
	}
	var failed *Error
	if errors.As(err, &failed) {
		failed.Stats = out.stats
		return out.stats, failed
	}
	if err != nil {
		return out.stats, fmt.Errorf("cannot run %s: %w", path, err)
	}
	return out.stats, nil
}

// output reads rsync's standard output: the statistics are kept, the rest
// (progress, messages) goes on to people as it comes.
type output struct {
	w       io.Writer
	pending []byte
	stats   Stats
	inStats bool
	// midLine says the last piece forwarded was a progress update, which
	// ends in a carriage return and wants a newline once done.
	midLine bool
}

func (o *output) Write(p []byte) (int, error) {
	o.pending = append(o.pending, p...)
	for {
		i := bytes.IndexAny(o.pending, "\r\n")
		if i < 0 {
			break
		}
		o.piece(string(o.pending[:i]), o.pending[i])
		o.pending = o.pending[i+1:]
	}
	return len(p), nil
}

func (o *output) flush() {
	if len(o.pending) > 0 {
		o.piece(string(o.pending), '\n')
		o.pending = nil
	}
}

// piece handles one line, or one progress update (ended by end).
func (o *output) piece(text string, end byte) {
	if strings.HasPrefix(text, "Number of files:") {
		o.inStats = true
	}
	if o.inStats {
		o.stat(text)
		if strings.HasPrefix(text, "total size is") {
			o.inStats = false
		}
		return
	}
	if text == "" && end == '\n' && !o.midLine {
		return // the blank lines around the statistics
	}
	fmt.Fprintf(o.w, "%s%c", text, end)
	o.midLine = end == '\r'
}

// stat reads one line of --stats.
func (o *output) stat(line string) {
	name, value, ok := strings.Cut(line, ":")
	if !ok {
		return
	}
	switch name {
	case "Number of files":
		o.stats.Files = int(number(value))
	case "Number of regular files transferred":
		o.stats.Transferred = int(number(value))
	case "Total transferred file size":
		o.stats.Bytes = number(value)
	}
}

// number reads the first number of a --stats value: "1,234 (reg: 1,000,
// dir: 234)" or "5,120 bytes".
func number(value string) int64 {
	fields := strings.Fields(value)
	if len(fields) == 0 {
		return 0
	}
	n, _ := strconv.ParseInt(strings.ReplaceAll(fields[0], ",", ""), 10, 64)
	return n
}
