package guest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"virtdev/lib/fsutil"
	"virtdev/lib/image"
	"virtdev/lib/layout"
)

// Step names the part of a build that failed, so that programs can give
// each its own exit code.
type Step int

const (
	StepScratch   Step = iota + 1 // making or cleaning the scratch directory
	StepBootstrap                 // mmdebstrap: packages and guest setup
	StepScript                    // VIRTDEV_SCRIPT failed inside the guest
	StepAssemble                  // partitions, filesystems, qcow2 images
	StepInstall                   // moving the result into place
	StepSettings                  // the new system refused a setting (VIRTDEV_TIMEZONE, _LOCALE, _KEYMAP)
)

// StepError is a failed build step.
type StepError struct {
	Step Step
	Err  error
}

func (e *StepError) Error() string { return e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }

func fail(step Step, err error, format string, args ...any) error {
	return &StepError{step, fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), err)}
}

// Build describes one base to build.
type Build struct {
	Settings Settings
	Dest     layout.Base       // where the finished base goes; must not exist
	NVRAM    string            // the firmware's variable-store template
	System   Disk              // from SystemDisk
	Home     Disk              // from HomeDisk
	Rootless bool              // map the guest's users through subordinate ids
	Tools    map[string]string // from FindTools
	Stage    func(format string, args ...any)
	Log      io.Writer // the tools' own progress and errors
}

// Names inside the build's directories; only the build itself reads them.
const (
	buildPrefix     = "virtdev-bootstrap-"
	buildRecord     = "build-dir"
	tmpRootfs       = "rootfs"
	disksSuffix     = "-disks"
	diskSystem      = "system.raw"
	diskHome        = "home.raw"
	scratchResult   = "installation"
	scriptVariable  = "VIRTDEV_BOOTSTRAP_SCRIPT"
	scriptFailedMsg = "virtdev-bootstrap: VIRTDEV_SCRIPT failed"
	efiBinary       = "/usr/lib/systemd/boot/efi/systemd-bootx64.efi"
)

// MaxScript keeps VIRTDEV_SCRIPT, base64-encoded, under the kernel's limit
// for one environment string (128 KiB).
const MaxScript = 96 << 10

// Run builds the base. The guest is installed and laid out on raw disks in
// a directory under $TMPDIR that the build's user namespace can reach; the
// qcow2 images are written to a scratch directory beside Dest, on its
// filesystem, and renamed into place only once everything succeeded. On
// any failure or cancellation both directories are removed and Dest never
// appears.
func (b Build) Run(ctx context.Context) (err error) {
	ids, err := NewIDs()
	if err != nil {
		return fail(StepScratch, err, "cannot draw filesystem identifiers")
	}
	scratch, err := os.MkdirTemp(filepath.Dir(b.Dest.Dir), "."+filepath.Base(b.Dest.Dir)+"-")
	if err != nil {
		return fail(StepScratch, err, "cannot create a scratch directory beside %s", b.Dest.Dir)
	}
	defer func() { err = errors.Join(err, b.remove(scratch)) }()
	// The namespace's root is a subordinate id, not the user: the tree must
	// be reachable by others, and the disks' directory is created from
	// inside so that the namespace can write to it.
	if b.Rootless {
		if err := reachable(os.TempDir()); err != nil {
			return &StepError{StepScratch, err}
		}
	}
	tmp, err := buildDir(scratch)
	if err != nil {
		return fail(StepScratch, err, "cannot create a build directory in %s", os.TempDir())
	}
	disks := tmp + disksSuffix
	defer func() { err = errors.Join(err, b.remove(tmp, disks)) }()
	rootfs := filepath.Join(tmp, tmpRootfs)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fail(StepScratch, err, "cannot prepare %s", tmp)
	}
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		return fail(StepScratch, err, "cannot prepare %s", tmp)
	}

	if err := b.bootstrap(ctx, rootfs, ids); err != nil {
		return err
	}
	if err := b.assemble(ctx, rootfs, disks, b.System, b.Home, ids); err != nil {
		return err
	}

	b.Stage("Converting the disks to thin qcow2 images")
	out := filepath.Join(scratch, scratchResult)
	if err := os.Mkdir(out, 0o755); err != nil {
		return fail(StepScratch, err, "cannot prepare %s", scratch)
	}
	result := layout.Base{
		SystemImage: filepath.Join(out, filepath.Base(b.Dest.SystemImage)),
		HomeImage:   filepath.Join(out, filepath.Base(b.Dest.HomeImage)),
		NVRAM:       filepath.Join(out, filepath.Base(b.Dest.NVRAM)),
	}
	if err := image.Convert(ctx, filepath.Join(disks, diskSystem), "raw", result.SystemImage); err != nil {
		return b.stepErr(ctx, StepAssemble, err, "cannot convert the system disk")
	}
	if err := image.Convert(ctx, filepath.Join(disks, diskHome), "raw", result.HomeImage); err != nil {
		return b.stepErr(ctx, StepAssemble, err, "cannot convert the home disk")
	}
	if err := fsutil.Copy(b.NVRAM, result.NVRAM, 0o644); err != nil {
		return fail(StepAssemble, err, "cannot copy the firmware variable store %s", b.NVRAM)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	b.Stage("Installing the base in %s", b.Dest.Dir)
	if _, err := os.Lstat(b.Dest.Dir); err == nil {
		return &StepError{StepInstall, fmt.Errorf("%s appeared during the build; the new base was discarded", b.Dest.Dir)}
	}
	if err := os.Rename(out, b.Dest.Dir); err != nil {
		return fail(StepInstall, err, "cannot move the new base into place")
	}
	return nil
}

// buildDir makes the directory under $TMPDIR the guest is installed in,
// after writing its path into the scratch directory beside Dest: a build
// killed on the way leaves both, and the next one finds the first through
// the second. ($TMPDIR, not beside Dest: a rootless build's namespace must
// reach it, and a home directory is often closed to others.)
func buildDir(scratch string) (string, error) {
	for {
		var random [8]byte
		if _, err := rand.Read(random[:]); err != nil {
			return "", err
		}
		dir := filepath.Join(os.TempDir(), buildPrefix+hex.EncodeToString(random[:]))
		if err := fsutil.WriteAtomic(filepath.Join(scratch, buildRecord), []byte(dir+"\n"), 0o600); err != nil {
			return "", err
		}
		if err := os.Mkdir(dir, 0o700); !errors.Is(err, fs.ErrExist) {
			return dir, err
		}
	}
}

// Recover removes what builds killed on the way (SIGKILL, a crash) left:
// their scratch directories beside Dest and, through the path each
// recorded, their build directories under $TMPDIR. It returns what it
// removed. Only a program that holds the base lock exclusively may call
// it, and b needs only Dest, Rootless and Tools.
func (b Build) Recover() ([]string, error) {
	parent, prefix := filepath.Dir(b.Dest.Dir), "."+filepath.Base(b.Dest.Dir)+"-"
	entries, err := os.ReadDir(parent)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		scratch := filepath.Join(parent, e.Name())
		var paths []string
		if dir, ok := recordedBuildDir(scratch); ok {
			for _, p := range []string{dir, dir + disksSuffix} {
				if _, err := os.Lstat(p); err == nil {
					paths = append(paths, p)
				}
			}
		}
		paths = append(paths, scratch)
		if err := b.remove(paths...); err != nil {
			return removed, err
		}
		removed = append(removed, paths...)
	}
	return removed, nil
}

// recordedBuildDir reads the build directory a scratch directory names,
// if it names one this program could have made.
func recordedBuildDir(scratch string) (string, bool) {
	data, _, err := fsutil.ReadPrefix(filepath.Join(scratch, buildRecord), 4096)
	if err != nil {
		return "", false
	}
	dir := strings.TrimSuffix(string(data), "\n")
	if !filepath.IsAbs(dir) || filepath.Clean(dir) != dir || !strings.HasPrefix(filepath.Base(dir), buildPrefix) {
		return "", false
	}
	return dir, true
}

// reachable makes sure the namespace's root, which is a subordinate id and
// so "others" to every directory the user owns, can reach dir.
func reachable(dir string) error {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		info, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("cannot use the temporary directory %s: %w", dir, err)
		}
		if info.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("the temporary directory %s is not reachable from the build's user namespace: %s is not searchable by others (mode %04o)\n"+
				"Point TMPDIR at a directory everyone can search, such as /tmp or /var/tmp", dir, d, info.Mode().Perm())
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// guestEnv starts every script that runs inside the new system: mmdebstrap
// passes the caller's environment through, so the variables that steer
// Debian's tools are set here, and the hooks' own texts are dropped.
const guestEnv = `export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive
unset VIRTDEV_BOOTSTRAP_ESSENTIAL VIRTDEV_BOOTSTRAP_SETUP VIRTDEV_BOOTSTRAP_RUN_SCRIPT VIRTDEV_BOOTSTRAP_FINISH
`

// UserScriptHook runs VIRTDEV_SCRIPT inside the new system. Its text comes
// in the environment, which, unlike a file under the user's home, the
// build's namespace can always read and, unlike the command line, other
// users cannot.
func UserScriptHook() string {
	return `set -eu
printf '%s' "$` + scriptVariable + `" | base64 -d > /root/virtdev-script
unset ` + scriptVariable + `
chmod 0700 /root/virtdev-script
status=0
/root/virtdev-script </dev/null || status=$?
rm -f /root/virtdev-script
if [ "$status" -ne 0 ]; then
	echo "` + scriptFailedMsg + ` with status $status" >&2
	exit 1
fi
`
}

// bootstrap runs mmdebstrap into rootfs, with hooks that set the guest up
// from inside.
func (b Build) bootstrap(ctx context.Context, rootfs string, ids IDs) error {
	mode := "root"
	if b.Rootless {
		mode = "unshare"
	}
	// The hooks' scripts travel in the environment: mmdebstrap passes it
	// into the new system, and the hooks on its command line, which it
	// logs, stay one line each.
	env := os.Environ()
	hook := func(stage, variable, script string) string {
		env = append(env, variable+"="+guestEnv+script)
		return "--chrooted-" + stage + "-hook=exec /bin/sh -c \"$" + variable + "\""
	}
	args := []string{
		"--mode=" + mode,
		"--variant=required",
		"--include=" + strings.Join(b.Settings.AllPackages(), ","),
		hook("essential", "VIRTDEV_BOOTSTRAP_ESSENTIAL", EssentialScript()),
		hook("customize", "VIRTDEV_BOOTSTRAP_SETUP", SetupScript(b.Settings, ids)),
	}
	if b.Settings.Script != "" {
		text, err := os.ReadFile(b.Settings.Script)
		if err != nil {
			return fail(StepScript, err, "cannot read VIRTDEV_SCRIPT")
		}
		if len(text) > MaxScript {
			return &StepError{StepScript, fmt.Errorf("VIRTDEV_SCRIPT %s is larger than %d KiB; let it fetch or copy what it needs instead", b.Settings.Script, MaxScript>>10)}
		}
		env = append(env, scriptVariable+"="+base64.StdEncoding.EncodeToString(text))
		args = append(args, hook("customize", "VIRTDEV_BOOTSTRAP_RUN_SCRIPT", UserScriptHook()))
	}
	args = append(args, hook("customize", "VIRTDEV_BOOTSTRAP_FINISH", FinishScript()), b.Settings.Suite, rootfs)
	if b.Settings.Mirror != "" {
		args = append(args, b.Settings.Mirror)
	}
	mirror := b.Settings.Mirror
	if mirror == "" {
		mirror = "Debian's default mirror"
	}
	b.Stage("Installing Debian %s from %s (mmdebstrap --mode=%s)", b.Settings.Suite, mirror, mode)
	watch := &lineWatch{w: b.Log, prefix: scriptFailedMsg}
	refused := &lineWatch{w: watch, prefix: settingRefused}
	cmd := b.command(ctx, b.Tools["mmdebstrap"], args...)
	cmd.Stdout, cmd.Stderr = refused, refused
	cmd.Env = env
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if refused.seen {
			return &StepError{StepSettings, errors.New(refused.rest)}
		}
		if watch.seen {
			return &StepError{StepScript, fmt.Errorf("VIRTDEV_SCRIPT %s failed inside the new system (its output is above)", b.Settings.Script)}
		}
		return fail(StepBootstrap, err, "mmdebstrap failed (its output is above)")
	}
	return nil
}

// AssembleScript lays the installed tree out on the two raw disks, in the
// directory disks, which it creates. It runs where the tree's files have
// their guest owners — inside the build's user namespace when rootless —
// so that the ext4 filesystems record root and dev, not the subordinate ids
// the files have on the host. Its arguments are the tree and disks.
func AssembleScript(tools map[string]string, ids IDs, system, home Disk) string {
	esp, xbootldr, root := system.Partitions[0], system.Partitions[1], system.Partitions[2]
	homePart := home.Partitions[0]
	t := func(name string) string { return Quote(tools[name]) }
	var s strings.Builder
	fmt.Fprintf(&s, `set -eu
umask 022
rootfs=$1 disks=$2
mkdir -m 0755 "$disks"
mkdir -p "$disks/esp/EFI/BOOT" "$disks/esp/EFI/systemd" "$disks/esp/loader" "$disks/boot" "$disks/home" "$rootfs/efi"
cp "$rootfs"%[1]s "$disks/esp/EFI/BOOT/BOOTX64.EFI"
cp "$rootfs"%[1]s "$disks/esp/EFI/systemd/"
cat > "$disks/esp/loader/loader.conf" <<'%[2]s'
%[3]s%[2]s
# /boot and /home stay in the root filesystem as empty mount points.
find "$rootfs/boot" -mindepth 1 -maxdepth 1 -exec mv -t "$disks/boot" {} +
find "$rootfs/home" -mindepth 1 -maxdepth 1 -exec mv -t "$disks/home" {} +
`, efiBinary, heredocEnd, LoaderConf)
	for _, d := range []struct {
		file string
		disk Disk
	}{{diskSystem, system}, {diskHome, home}} {
		fmt.Fprintf(&s, "truncate -s %d \"$disks/%s\"\n", d.disk.Size, d.file)
		fmt.Fprintf(&s, "%s --quiet --no-reread --no-tell-kernel \"$disks/%s\" <<'%s'\n%s%s\n",
			t("sfdisk"), d.file, heredocEnd, d.disk.SfdiskScript(), heredocEnd)
	}
	fmt.Fprintf(&s, "%s -q -F -t ext4 -U %s -d \"$rootfs\" -E offset=%d \"$disks/%s\" %dk\n",
		t("mkfs.ext4"), ids.Root, root.Start, diskSystem, root.Size>>10)
	fmt.Fprintf(&s, "%s -q -F -t ext4 -L home -d \"$disks/home\" -E offset=%d \"$disks/%s\" %dk\n",
		t("mkfs.ext4"), homePart.Start, diskHome, homePart.Size>>10)
	for _, v := range []struct {
		part   Partition
		label  string
		serial string
		tree   string
	}{{esp, "ESP", ids.ESP, "esp"}, {xbootldr, "XBOOTLDR", ids.XBOOTLDR, "boot"}} {
		sectors := v.part.Start / sectorSize
		// Without -s, mkfs.fat sizes clusters for the whole image file,
		// not the partition, and leaves too few for FAT32.
		fmt.Fprintf(&s, "out=$(%s -F 32 -s 8 -n %s -i %s -h %d --offset %d \"$disks/%s\" %d 2>&1) || { echo \"$out\" >&2; exit 1; }\n",
			t("mkfs.fat"), v.label, SerialNumber(v.serial), sectors, sectors, diskSystem, v.part.Size>>10)
		fmt.Fprintf(&s, "MTOOLS_SKIP_CHECK=1 %s -s -Q -m -i \"$disks/%s@@%d\" \"$disks/%s\"/* ::/\n",
			t("mcopy"), diskSystem, v.part.Start, v.tree)
	}
	return s.String()
}

// assemble runs AssembleScript.
func (b Build) assemble(ctx context.Context, rootfs, disks string, system, home Disk, ids IDs) error {
	b.Stage("Writing the disks: ESP, XBOOTLDR and root (%s), home (%s)", sizeText(system.Size), sizeText(home.Size))
	script := AssembleScript(b.Tools, ids, system, home)
	cmd := b.namespaced(ctx, "/bin/sh", "-c", script, "assemble", rootfs, disks)
	// A signal would stop only the helper outside the namespace, whose
	// processes it may not signal, and the filesystem tools would go on
	// writing while the directories are removed. The step takes seconds:
	// on cancellation it finishes, and then everything is removed. (A
	// Ctrl-C from the terminal reaches all of them at once anyway.)
	cmd.Cancel = func() error { return nil }
	cmd.WaitDelay = 0
	if err := cmd.Run(); err != nil {
		return b.stepErr(ctx, StepAssemble, err, "cannot lay the new system out on its disks")
	}
	return nil
}

// command runs a tool with its output on the build's log. Cancellation
// asks the tool to stop with SIGTERM, so that mmdebstrap can unmount and
// clean up, and kills it only if it does not.
func (b Build) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = b.Log, b.Log
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = time.Minute
	return cmd
}

// namespaced runs a command where the guest's files have their guest
// owners: in a user namespace mapped like mmdebstrap's when rootless.
func (b Build) namespaced(ctx context.Context, name string, args ...string) *exec.Cmd {
	if !b.Rootless {
		return b.command(ctx, name, args...)
	}
	return b.command(ctx, b.Tools["mmdebstrap"], append([]string{"--unshare-helper", name}, args...)...)
}

func (b Build) stepErr(ctx context.Context, step Step, err error, format string, args ...any) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fail(step, err, format, args...)
}

// LeftoverError names what a build could not clean up.
type LeftoverError struct {
	Paths []string
	Err   error
}

func (e *LeftoverError) Error() string {
	quoted := make([]string, len(e.Paths))
	for i, p := range e.Paths {
		quoted[i] = Quote(p)
	}
	return fmt.Sprintf("cannot remove %s: %v\nRemove it with: mmdebstrap --unshare-helper rm -rf %s",
		strings.Join(e.Paths, " and "), e.Err, strings.Join(quoted, " "))
}

func (e *LeftoverError) Unwrap() error { return e.Err }

// remove deletes the build's directories. A rootless build leaves files
// owned by subordinate ids, which only the namespace can delete; it runs
// even after cancellation, so it has its own deadline.
func (b Build) remove(paths ...string) error {
	var err error
	var left []string
	for _, p := range paths {
		if rerr := os.RemoveAll(p); rerr != nil {
			err = rerr
			left = append(left, p)
		}
	}
	if len(left) == 0 {
		return nil
	}
	if b.Rootless {
		// The namespace empties what it owns; the directories the user
		// owns, it cannot unlink, and the user then can.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := b.command(ctx, b.Tools["mmdebstrap"], append([]string{"--unshare-helper", "rm", "-rf", "--"}, left...)...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.Run()
		for _, p := range left {
			if rerr := os.RemoveAll(p); rerr != nil {
				err = rerr
			}
		}
	}
	var still []string
	for _, p := range left {
		if _, serr := os.Lstat(p); serr == nil {
			still = append(still, p)
		}
	}
	if len(still) == 0 {
		return nil
	}
	return &LeftoverError{still, err}
}

// lineWatch passes output through and notes whether a line starting with
// prefix went by, and the rest of the first such line.
type lineWatch struct {
	w      io.Writer
	prefix string
	line   []byte
	seen   bool
	rest   string
}

// maxWatchedLine bounds what a watched line keeps: messages are short, and
// a tool that prints a long line must not fill the memory.
const maxWatchedLine = 1024

func (l *lineWatch) Write(p []byte) (int, error) {
	for _, c := range p {
		if c == '\n' {
			if !l.seen && bytes.HasPrefix(l.line, []byte(l.prefix)) {
				l.seen, l.rest = true, string(l.line[len(l.prefix):])
			}
			l.line = l.line[:0]
		} else if len(l.line) < maxWatchedLine {
			l.line = append(l.line, c)
		}
	}
	return l.w.Write(p)
}

func sizeText(n int64) string {
	if n%(1<<30) == 0 {
		return strconv.FormatInt(n>>30, 10) + " GiB"
	}
	return strconv.FormatInt(n>>20, 10) + " MiB"
}
