// Command virtdev-disk shows a project's disks: their sizes, what they
// take on the host, and what they are deltas of.
//
//	virtdev-disk [OPTIONS] <project>
//
// stdout holds a table, one disk a line, or with --json one JSON object.
// It reads the images with qemu-img info, whether the machine runs or not.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"text/tabwriter"

	"virtdev/lib/cli"
	"virtdev/lib/exitcode"
	"virtdev/lib/fsutil"
	"virtdev/lib/image"
	"virtdev/lib/layout"
)

const (
	exitUnreadable = 10
	exitNoQemuImg  = 11
)

type options struct {
	JSON bool `long:"json" description:"print one JSON object: the project, whether it is detached, and each disk's sizes and backing file"`
}

var opts options

var command = cli.Command{
	Name:    "virtdev-disk",
	Group:   cli.Inspection,
	Summary: "Show a project's disks: sizes, space taken on the host, backing files.",
	Args:    []cli.Arg{{Name: "project", Kind: cli.ArgMachine}},
	Options: &opts,
	Description: `Prints a line per disk of the machine of a project (or the maintenance
machine, named maintenance), system then home:
  DISK      the disk
  VIRTUAL   its size as the guest sees it
  HOST      the space its image takes on the host (a delta starts near 0)
  FORMAT    the image's format (qcow2)
  BACKING   the image it is a delta of, and that image's format; "-" for a
            standalone image (a detached project)
A project whose images are deltas of the sealed base is attached; a
detached one (virtdev-detach) has standalone images and boots whatever
becomes of the base. The images are read with qemu-img info, with -U so that
a running machine's images can be read too.

--json prints {"project", "detached", "disks": [{"name", "path", "format",
"virtual_size", "allocated", "backing_file", "backing_format"}]}, sizes in
bytes.`,
	Codes: []exitcode.Code{
		{N: 0, Meaning: "printed"},
		exitcode.InvalidName, exitcode.NotFound,
		{N: exitUnreadable, Meaning: "a disk image is missing or qemu-img cannot read it"},
		{N: exitNoQemuImg, Meaning: "qemu-img is not installed"},
		exitcode.Output, exitcode.Config, exitcode.Unusable,
	},
	Query: true,
	Run:   run,
}

func main() { cli.Main(command) }

// disk is one disk as --json prints it.
type disk struct {
	Name          string `json:"name"`
	Path          string `json:"path"`
	Format        string `json:"format"`
	VirtualSize   int64  `json:"virtual_size"`
	Allocated     int64  `json:"allocated"`
	BackingFile   string `json:"backing_file,omitempty"`
	BackingFormat string `json:"backing_format,omitempty"`
}

func run(env *cli.Env, args []string) error {
	_, m, err := env.Machine(args[0])
	if err != nil {
		return err
	}
	if _, err := exec.LookPath(image.Tool); err != nil {
		return cli.Errorf(exitNoQemuImg, "qemu-img is not on PATH; install it (Debian: apt install qemu-utils; Arch: pacman -S qemu-img)")
	}
	var disks []disk
	for _, d := range []struct{ name, path string }{{"system", m.SystemImage}, {"home", m.HomeImage}} {
		info, err := image.Inspect(env.Ctx, d.path)
		if err != nil {
			return cli.Wrap(exitUnreadable, err, "cannot read the %s disk of %s", d.name, m.Name)
		}
		backing := info.FullBackingFilename
		if backing == "" {
			backing = info.BackingFilename
		}
		disks = append(disks, disk{Name: d.name, Path: d.path, Format: info.Format, VirtualSize: info.VirtualSize,
			Allocated: info.ActualSize, BackingFile: backing, BackingFormat: info.BackingFormat})
	}
	detached, base := true, ""
	for _, d := range disks {
		if d.BackingFile != "" && detached {
			detached, base = false, filepath.Dir(d.BackingFile)
		}
	}
	if opts.JSON {
		return printJSON(env, m, detached, disks)
	}
	w := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "DISK\tVIRTUAL\tHOST\tFORMAT\tBACKING")
	for _, d := range disks {
		backing := "-"
		if d.BackingFile != "" {
			backing = fmt.Sprintf("%s (%s)", d.BackingFile, d.BackingFormat)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", d.Name, fsutil.SizeText(d.VirtualSize), fsutil.SizeText(d.Allocated), d.Format, backing)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	switch {
	case m.Name == layout.Maintenance:
	case detached:
		env.Infof("%s is detached: its disks stand alone, without the base.", m.Name)
	default:
		env.Infof("%s is attached: its disks are deltas over %s.", m.Name, base)
	}
	return nil
}

func printJSON(env *cli.Env, m layout.Machine, detached bool, disks []disk) error {
	data, err := json.Marshal(struct {
		Project  string `json:"project"`
		Detached bool   `json:"detached"`
		Disks    []disk `json:"disks"`
	}{m.Name, detached, disks})
	if err != nil {
		return errors.New("cannot encode the disks: " + err.Error())
	}
	fmt.Fprintf(env.Stdout, "%s\n", data)
	return nil
}
