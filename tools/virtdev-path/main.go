// Command virtdev-path prints the path of a project's resource.
//
//	virtdev-path [OPTIONS] <project> [resource]
//
// stdout holds only the path, for scripts: cd "$(virtdev-path p)".
// The names base and maintenance address the sealed base and the
// maintenance staging copy instead of a project.
package main

import (
	"fmt"
	"os"
	"strings"

	"virtdev/lib/backup"
	"virtdev/lib/cli"
	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
	"virtdev/lib/project"
)

const (
	exitNoResource      = 10
	exitUnknownResource = 11
)

var command = cli.Command{
	Name:    "virtdev-path",
	Group:   cli.Inspection,
	Summary: "Print the path of a project resource.",
	Args: []cli.Arg{
		{Name: "project", Kind: cli.ArgPathTarget},
		{Name: "resource", Kind: cli.ArgResource, Optional: true, Values: projectResources,
			ValuesFor: map[string][]string{"base": baseResources, layout.Maintenance: baseResources}},
	},
	Codes: []exitcode.Code{
		{N: 0, Meaning: "printed"},
		exitcode.InvalidName, exitcode.NotFound, exitcode.Unusable,
		{N: exitNoResource, Meaning: "the resource does not exist (for base and maintenance)"},
		{N: exitUnknownResource, Meaning: "unknown resource"},
		exitcode.Output, exitcode.Config,
	},
	Description: `Resources of a project (default: data):
  data          the project directory (disks, nvram, runtime files)
  system-image  the system disk delta
  home-image    the home disk delta
  nvram         the UEFI variable store
  generation    the base generation file
  port          the SSH port file (exists while the VM runs)
  monitor       the QMP socket
  console       the serial console socket
  events        the QMP socket of the machine's supervisor (not for use)
  qemu-pid      QEMU's process ID (exists while the VM runs)
  shutdown      the record of how the VM last ended (JSON, from virtdev-stop)
  backups       the backup snapshots directory
  manifest      the backup manifest in force
  config        the project's configuration directory

The names base and maintenance address the sealed base and the maintenance
staging copy; they have data, system-image, home-image, nvram and generation.`,
	Query: true,
	Run:   run,
}

func main() { cli.Main(command) }

func run(env *cli.Env, args []string) error {
	l, err := env.Layout()
	if err != nil {
		return err
	}
	name, resource := args[0], "data"
	if len(args) == 2 {
		resource = args[1]
	}
	var path string
	switch name {
	case "base":
		path, err = basePath(l.System(), name, resource)
	case layout.Maintenance:
		path, err = basePath(l.Staging(), name, resource)
	default:
		path, err = projectPath(l, name, resource)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, path)
	return nil
}

var baseResources = []string{"data", "system-image", "home-image", "nvram", "generation"}

// basePath answers only for files that exist: unlike a project, a missing
// base is itself the news.
func basePath(b layout.Base, name, resource string) (string, error) {
	paths := map[string]string{
		"data":         b.Dir,
		"system-image": b.SystemImage,
		"home-image":   b.HomeImage,
		"nvram":        b.NVRAM,
		"generation":   b.Generation,
	}
	path, ok := paths[resource]
	if !ok {
		return "", unknownResource(name, resource, baseResources)
	}
	if _, err := os.Stat(path); err != nil {
		fix := "Build and seal a base: virtdev-bootstrap && virtdev-seal"
		if name == layout.Maintenance {
			fix = "It exists only while virtdev-maintain runs."
		}
		return "", cli.Errorf(exitNoResource, "%s %s does not exist: %s\n%s", name, resource, path, fix)
	}
	return path, nil
}

var projectResources = []string{"data", "system-image", "home-image", "nvram", "generation",
	"port", "monitor", "console", "events", "qemu-pid", "shutdown", "backups", "manifest", "config"}

func projectPath(l layout.Layout, name, resource string) (string, error) {
	m, err := project.Find(l, name)
	if err != nil {
		return "", err
	}
	switch resource {
	case "data":
		return m.Dir, nil
	case "system-image":
		return m.SystemImage, nil
	case "home-image":
		return m.HomeImage, nil
	case "nvram":
		return m.NVRAM, nil
	case "generation":
		return m.Generation, nil
	case "port":
		return m.Port, nil
	case "monitor":
		return m.Monitor, nil
	case "console":
		return m.Console, nil
	case "events":
		return m.Events, nil
	case "qemu-pid":
		return m.QEMUPid, nil
	case "shutdown":
		return m.Shutdown, nil
	case "backups":
		return l.Backups(name), nil
	case "config":
		return l.ProjectConfig(name).Dir, nil
	case "manifest":
		path, err := backup.ResolveManifest(l, name)
		if err != nil {
			c := backup.ManifestCandidates(l, name)
			return "", cli.Errorf(exitNoResource,
				"project %q has no backup manifest; looked for:\n    %s\nWrite the paths to back up, one per line, into %s",
				name, strings.Join(c, "\n    "), c[len(c)-1])
		}
		return path, nil
	}
	return "", unknownResource(name, resource, projectResources)
}

func unknownResource(name, resource string, valid []string) error {
	return cli.Errorf(exitUnknownResource, "unknown resource %q for %s\nValid resources: %s",
		resource, name, strings.Join(valid, ", "))
}
