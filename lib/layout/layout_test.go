package layout_test

import (
	"testing"

	"virtdev/lib/config"
	"virtdev/lib/layout"
)

func newLayout(t *testing.T) layout.Layout {
	t.Helper()
	vars := map[string]string{"HOME": "/home/u", "VIRTDEV_HOME": "/v", "VIRTDEV_CACHE": "/c"}
	c, err := config.Load(func(name string) string { return vars[name] })
	if err != nil {
		t.Fatal(err)
	}
	return layout.New(c)
}

// The paths are those of the seed README's "Data layout"; scripts and users
// rely on them, so each one is pinned.
func TestPaths(t *testing.T) {
	l := newLayout(t)
	p := l.Project("p")
	m := l.Machine(layout.Maintenance)
	snap := l.Snapshot("p", "2026-04-25/14-30-22")
	pc := l.ProjectConfig("p")
	for _, tc := range []struct{ name, got, want string }{
		{"Home", l.Home, "/v"},
		{"Cache", l.Cache, "/c"},
		{"ConfigDir", l.ConfigDir, "/home/u/.config/virtdev"},
		{"SSHKey", l.SSHKey, "/v/ssh/id"},
		{"SSHPublicKey", l.SSHPublicKey(), "/v/ssh/id.pub"},
		{"Lock", l.Lock(), "/v/lock"},

		{"System.Dir", l.System().Dir, "/v/system"},
		{"System.SystemImage", l.System().SystemImage, "/v/system/system.qcow2"},
		{"System.HomeImage", l.System().HomeImage, "/v/system/home.qcow2"},
		{"System.NVRAM", l.System().NVRAM, "/v/system/nvram"},
		{"System.Generation", l.System().Generation, "/v/system/generation"},
		{"Installation.Dir", l.Installation().Dir, "/v/installation"},
		{"Installation.Generation", l.Installation().Generation, "/v/installation/generation"},
		{"Staging.Dir", l.Staging().Dir, "/v/maintenance"},
		{"Staging.SystemImage", l.Staging().SystemImage, "/v/maintenance/system.qcow2"},

		{"Projects", l.Projects(), "/v/projects"},
		{"Project.Name", p.Name, "p"},
		{"Project.Dir", p.Dir, "/v/projects/p"},
		{"ProjectDir", l.ProjectDir("p"), "/v/projects/p"},
		{"Project.SystemImage", p.SystemImage, "/v/projects/p/system.qcow2"},
		{"Project.HomeImage", p.HomeImage, "/v/projects/p/home.qcow2"},
		{"Project.NVRAM", p.NVRAM, "/v/projects/p/nvram"},
		{"Project.Generation", p.Generation, "/v/projects/p/generation"},
		{"Project.Port", p.Port, "/v/projects/p/port"},
		{"Project.Monitor", p.Monitor, "/v/projects/p/monitor.sock"},
		{"Project.Console", p.Console, "/v/projects/p/console.sock"},
		{"Project.Events", p.Events, "/v/projects/p/events.sock"},
		{"Project.QEMUPid", p.QEMUPid, "/v/projects/p/qemu.pid"},
		{"Project.Shutdown", p.Shutdown, "/v/projects/p/shutdown"},
		{"Project.Manifest", p.Manifest, "/v/projects/p/manifest"},
		{"Project.Zone", p.Zone, "/v/projects/p/zone"},
		{"Project.HostKey", p.HostKey, "/v/projects/p/ssh_host_ed25519_key"},
		{"Project.KnownHosts", p.KnownHosts, "/v/projects/p/known_hosts"},
		{"Project.Report", p.Report, "/v/projects/p/report"},
		{"Project.SSHConfig", p.SSHConfig, "/v/projects/p/ssh_config"},
		{"Machine(p).Dir", l.Machine("p").Dir, "/v/projects/p"},

		// The maintenance machine lives in the staging directory, not
		// among the projects.
		{"Machine(maintenance).Name", m.Name, "maintenance"},
		{"Machine(maintenance).Dir", m.Dir, "/v/maintenance"},
		{"Machine(maintenance).Port", m.Port, "/v/maintenance/port"},
		{"Machine(maintenance).Monitor", m.Monitor, "/v/maintenance/monitor.sock"},
		{"Machine(maintenance).SystemImage", m.SystemImage, "/v/maintenance/system.qcow2"},
		{"MachineAt.Shutdown", layout.MachineAt("installer", "/v/installation/.tmp//x/").Shutdown, "/v/installation/.tmp/x/shutdown"},

		{"Unit", layout.Unit("p"), "virtdev-p.service"},
		{"Unit(maintenance)", layout.Unit(layout.Maintenance), "virtdev-maintenance.service"},

		{"Backups", l.Backups("p"), "/v/backups/p"},
		{"Snapshot.Dir", snap.Dir, "/v/backups/p/2026-04-25/14-30-22"},
		{"Snapshot.Project", snap.Project, "/v/backups/p/2026-04-25/14-30-22/project"},
		{"Snapshot.Manifest", snap.Manifest, "/v/backups/p/2026-04-25/14-30-22/manifest"},
		{"Snapshot.Generation", snap.Generation, "/v/backups/p/2026-04-25/14-30-22/generation"},
		{"Snapshot.Tree", snap.Tree, "/v/backups/p/2026-04-25/14-30-22/tree"},

		{"UserSSHConfig", l.UserSSHConfig(), "/home/u/.config/virtdev/ssh_config"},
		{"Trigger", l.Trigger("pre-ssh"), "/home/u/.config/virtdev/triggers/pre-ssh"},
		{"MaintenanceHook", l.MaintenanceHook("provision"), "/home/u/.config/virtdev/maintenance/provision"},
		{"ProjectConfigs", l.ProjectConfigs(), "/home/u/.config/virtdev/projects"},
		{"ProjectConfig.Dir", pc.Dir, "/home/u/.config/virtdev/projects/p"},
		{"ProjectConfig.SSHConfig", pc.SSHConfig, "/home/u/.config/virtdev/projects/p/ssh_config"},
		{"ProjectConfig.Manifest", pc.Manifest, "/home/u/.config/virtdev/projects/p/manifest"},
		{"ProjectConfig.Provision", pc.Provision, "/home/u/.config/virtdev/projects/p/provision"},
		{"ProjectConfig.Net", pc.Net, "/home/u/.config/virtdev/projects/p/net"},
		{"ProjectConfig.Trigger", pc.Trigger("post-ssh"), "/home/u/.config/virtdev/projects/p/triggers/post-ssh"},

		{"ISOWork", l.ISOWork(), "/c/work"},
		{"ISOProfile", l.ISOProfile(), "/c/profile"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}
