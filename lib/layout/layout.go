// Package layout is the one place that knows where virtdev keeps things.
//
// No program joins path fragments itself: a path that moves moves here, and
// the whole data layout can be read in one file.
package layout

import (
	"path/filepath"
	"strings"

	"virtdev/lib/config"
)

// Maintenance is the reserved name of the machine virtdev-maintain boots; it
// lives beside the projects, not among them.
const Maintenance = "maintenance"

// Layout roots every path at the configured directories.
type Layout struct {
	Home      string // VIRTDEV_HOME
	Cache     string // VIRTDEV_CACHE
	ConfigDir string // ~/.config/virtdev
	SSHKey    string // VIRTDEV_SSH_KEY
}

// New derives the layout from a loaded configuration.
func New(c *config.Config) Layout {
	return Layout{Home: c.Home, Cache: c.Cache, ConfigDir: c.ConfigDir, SSHKey: c.SSHKey}
}

// Lock is the base lock: held exclusively by programs that change the base,
// shared by those that rely on it.
func (l Layout) Lock() string { return filepath.Join(l.Home, "lock") }

// ProjectLock is one project's lock, beside its directory so that nothing
// that removes or renames the directory takes a held lock with it.
func (l Layout) ProjectLock(name string) string { return filepath.Join(l.Locks(), name) }

// Locks holds the project locks and the ports lock.
func (l Layout) Locks() string { return filepath.Join(l.Home, "locks") }

// PortsLock serialises SSH port choices. Its name starts with a dot, which
// no project name does.
func (l Layout) PortsLock() string { return filepath.Join(l.Locks(), ".ports") }

// SSHPublicKey sits beside the private key, as OpenSSH expects.
func (l Layout) SSHPublicKey() string { return l.SSHKey + ".pub" }

// Base is the set of files that make up a base: the sealed one, the
// installation it was sealed from, or the maintenance staging copy.
type Base struct {
	Dir         string
	SystemImage string
	HomeImage   string
	NVRAM       string
	Generation  string
}

// in names the file name in dir. Every dir given is made by filepath.Join,
// so already clean: list derives the paths of every project, and cleaning
// each of them again cost more than reading the project's files.
func in(dir, name string) string { return dir + string(filepath.Separator) + name }

// file is one file of a directory: where its path goes, and its name.
type file struct {
	path *string
	name string
}

// place sets the path of each file, in dir (clean, as for in), the paths
// sharing one allocation: list derives the paths of every project, and a
// string apiece was a tenth of its run.
func place(dir string, files ...file) {
	n := 0
	for _, f := range files {
		n += len(dir) + 1 + len(f.name)
	}
	var b strings.Builder
	b.Grow(n)
	for _, f := range files {
		b.WriteString(dir)
		b.WriteByte(filepath.Separator)
		b.WriteString(f.name)
	}
	all := b.String()
	for _, f := range files {
		*f.path, all = all[:len(dir)+1+len(f.name)], all[len(dir)+1+len(f.name):]
	}
}

// files are the files of a base.
func (b *Base) files() []file {
	return []file{
		{&b.SystemImage, "system.qcow2"},
		{&b.HomeImage, "home.qcow2"},
		{&b.NVRAM, "nvram"},
		{&b.Generation, "generation"},
	}
}

func base(dir string) Base {
	b := Base{Dir: dir}
	place(dir, b.files()...)
	return b
}

// System is the sealed, read-only base every project derives from.
func (l Layout) System() Base { return base(filepath.Join(l.Home, "system")) }

// Installation is an unsealed base, freshly built by install or bootstrap.
func (l Layout) Installation() Base { return base(filepath.Join(l.Home, "installation")) }

// Staging is the writable copy virtdev-maintain boots and reseals from.
func (l Layout) Staging() Base { return base(filepath.Join(l.Home, Maintenance)) }

// Machine is everything one bootable machine owns: its disks and firmware
// state, and the runtime files that exist only while it runs.
type Machine struct {
	Name string
	Base
	Port string // present exactly while the VM runs
	// Zone names the network zone the machine runs in; a runtime file,
	// beside Port.
	Zone    string
	Monitor string // QMP socket, for virtdev's programs and the user
	Console string // serial console socket
	// Events is the QMP socket reserved for the machine's supervisor,
	// which follows QEMU's events on it for the machine's whole life.
	Events string
	// QEMUPid holds QEMU's process ID while it runs (QEMU writes it).
	QEMUPid string
	// Up is held locked by the machine's supervisor while the machine is
	// up (see lock.HoldUp); a runtime file.
	Up       string
	Shutdown string // how the VM last ended, recorded from QMP
	// Report receives what the guest writes to its report port (see
	// qemu.ReportPort), for a machine started with one: the maintenance
	// machine, which tells virtdev-maintain that it sealed itself.
	Report   string
	Manifest string // project-local backup manifest
	// HostKey is the private half of the guest's SSH host key, made on
	// the host and handed to the guest at every boot; KnownHosts pins its
	// public half. Both go with the machine's directory.
	HostKey    string
	KnownHosts string
	// SSHConfig starts the names of the OpenSSH configurations assembled
	// for the connections under way, one file each: SSHConfig.<unique>.
	SSHConfig string
}

// MachineAt is the machine name whose directory is dir, for a program
// that runs in it (the machine's supervisor).
func MachineAt(name, dir string) Machine { return machine(name, filepath.Clean(dir)) }

func machine(name, dir string) Machine {
	m := Machine{Name: name, Base: Base{Dir: dir}}
	place(dir, append(m.Base.files(),
		file{&m.Port, "port"},
		file{&m.Zone, "zone"},
		file{&m.Monitor, "monitor.sock"},
		file{&m.Console, "console.sock"},
		file{&m.Events, "events.sock"},
		file{&m.QEMUPid, "qemu.pid"},
		file{&m.Up, "up"},
		file{&m.Shutdown, "shutdown"},
		file{&m.Report, "report"},
		file{&m.Manifest, "manifest"},
		file{&m.HostKey, "ssh_host_ed25519_key"},
		file{&m.KnownHosts, "known_hosts"},
		file{&m.SSHConfig, "ssh_config"},
	)...)
	return m
}

// Projects holds one directory per project.
func (l Layout) Projects() string { return filepath.Join(l.Home, "projects") }

// Project is a project's machine. The name must already be validated.
func (l Layout) Project(name string) Machine { return machine(name, l.ProjectDir(name)) }

// ProjectDir is Project(name).Dir alone, for those that look at every
// project's directory and at nothing else in it.
func (l Layout) ProjectDir(name string) string { return in(l.Projects(), name) }

// Machine resolves a name the runtime programs accept: a project, or the
// maintenance machine.
func (l Layout) Machine(name string) Machine {
	if name == Maintenance {
		return machine(name, l.Staging().Dir)
	}
	return l.Project(name)
}

// Scratch names beside a project's directory, in the same parent so that
// each is one rename away from the directory itself. They start with a
// dot, which no project name does, so no program takes them for projects.

// DestroyTrash is where virtdev-destroy renames a project before removing
// it: the project is gone at once, and a removal cut short is finished by
// the next destroy of the name.
func (l Layout) DestroyTrash(name string) string {
	return filepath.Join(l.Projects(), "."+name+".destroying")
}

// DetachStaging is where virtdev-detach assembles the detached project
// before swapping it with the project's directory; after the swap it
// holds the attached disks until they are removed.
func (l Layout) DetachStaging(name string) string {
	return filepath.Join(l.Projects(), "."+name+".detaching")
}

// DetachAttached holds the attached project while the detached one takes
// its place, on file systems that cannot swap two directories in one step.
func (l Layout) DetachAttached(name string) string {
	return filepath.Join(l.Projects(), "."+name+".attached")
}

// Journals holds the records of operations that change several places at
// once (a move), so that the next program finishes or undoes one that was
// cut short.
func (l Layout) Journals() string { return filepath.Join(l.Home, "journals") }

// Unit is the transient systemd user unit that runs a machine.
func Unit(name string) string { return "virtdev-" + name + ".service" }

// Backups holds a project's snapshots, which outlive the project itself.
func (l Layout) Backups(project string) string {
	return filepath.Join(l.BackupRoot(), project)
}

// BackupRoot holds every project's backups.
func (l Layout) BackupRoot() string { return filepath.Join(l.Home, "backups") }

// Snapshot is one backup, named by its YYYY-MM-DD/HH-MM-SS id.
type Snapshot struct {
	Dir        string
	Project    string // file naming the project the snapshot came from
	Manifest   string // the manifest in force when it was taken
	Generation string // the base generation it was taken on
	Tree       string // the user content itself
}

// Snapshot locates a snapshot; the id must already be validated.
func (l Layout) Snapshot(project, id string) Snapshot {
	dir := filepath.Join(l.Backups(project), filepath.FromSlash(id))
	return Snapshot{
		Dir:        dir,
		Project:    filepath.Join(dir, "project"),
		Manifest:   filepath.Join(dir, "manifest"),
		Generation: filepath.Join(dir, "generation"),
		Tree:       filepath.Join(dir, "tree"),
	}
}

// UserSSHConfig is the system-level SSH configuration for every project.
func (l Layout) UserSSHConfig() string { return filepath.Join(l.ConfigDir, "ssh_config") }

// Trigger is a system-level trigger script for an event such as pre-ssh.
func (l Layout) Trigger(event string) string {
	return filepath.Join(l.ConfigDir, "triggers", event)
}

// MaintenanceHook is a hook virtdev-maintain runs: provision or inventory.
func (l Layout) MaintenanceHook(hook string) string {
	return filepath.Join(l.ConfigDir, Maintenance, hook)
}

// ProjectConfig is the user's own, durable configuration for a project; it
// survives destroy and nuke.
type ProjectConfig struct {
	Dir       string
	SSHConfig string
	Manifest  string
	Provision string
	// Net names the project's network zone; the guest never sees it.
	Net string
}

// ProjectConfigs holds the configuration directory of each project that
// has one.
func (l Layout) ProjectConfigs() string { return filepath.Join(l.ConfigDir, "projects") }

// ProjectConfig locates a project's configuration directory.
func (l Layout) ProjectConfig(project string) ProjectConfig {
	c := ProjectConfig{Dir: in(l.ProjectConfigs(), project)}
	place(c.Dir,
		file{&c.SSHConfig, "ssh_config"},
		file{&c.Manifest, "manifest"},
		file{&c.Provision, "provision"},
		file{&c.Net, "net"},
	)
	return c
}

// Trigger is the project's own trigger script for an event.
func (p ProjectConfig) Trigger(event string) string {
	return filepath.Join(p.Dir, "triggers", event)
}

// DeltaTemplates caches empty deltas over the sealed base, which
// virtdev-create copies instead of running qemu-img for every project.
func (l Layout) DeltaTemplates() string { return filepath.Join(l.Cache, "deltas") }

// ISOWork and ISOProfile are mkarchiso's scratch directories.
func (l Layout) ISOWork() string    { return filepath.Join(l.Cache, "work") }
func (l Layout) ISOProfile() string { return filepath.Join(l.Cache, "profile") }
