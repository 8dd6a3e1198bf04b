package sshx

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"virtdev/lib/layout"
)

func testTarget(t *testing.T) (layout.Layout, Target) {
	t.Helper()
	root := t.TempDir()
	l := layout.Layout{
		Home:      filepath.Join(root, "data 100%"),
		ConfigDir: filepath.Join(root, "config"),
		SSHKey:    filepath.Join(root, "key dir", "id%1"),
	}
	m := l.Project("p")
	if err := os.MkdirAll(m.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return l, Target{Name: "p", Machine: m, Port: 2345, Key: l.SSHKey}
}

// effective asks ssh itself what it makes of the assembled configuration,
// so that the test checks OpenSSH's precedence rules, not a model of them.
func effective(t *testing.T, tg Target, sources []Source) map[string][]string {
	t.Helper()
	sshPath, err := exec.LookPath("ssh")
	if err != nil {
		t.Skip("needs the OpenSSH client")
	}
	config, err := Assemble(tg, sources)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteConfig(tg.Machine, config); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sshPath, "-G", "-F", tg.Machine.SSHConfig, tg.Alias()).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh -G: %v\n%s\nconfig:\n%s", err, out, config)
	}
	opts := map[string][]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok {
			opts[k] = append(opts[k], v)
		}
	}
	return opts
}

func TestAssembleDefaults(t *testing.T) {
	_, tg := testTarget(t)
	got := effective(t, tg, nil)
	want := map[string]string{
		"hostname":       "127.0.0.1",
		"port":           "2345",
		"user":           "dev",
		"identitiesonly": "yes",
		// ssh -G shows IdentityFile before expanding its tokens, but
		// UserKnownHostsFile after: both paths hold a literal %.
		"identityfile":          strings.ReplaceAll(tg.Key, "%", "%%"),
		"hostkeyalias":          "virtdev-p",
		"userknownhostsfile":    tg.Machine.KnownHosts,
		"globalknownhostsfile":  "/dev/null",
		"stricthostkeychecking": "accept-new",
		"forwardagent":          "no",
		"controlmaster":         "false",
		"loglevel":              "ERROR",
	}
	for k, v := range want {
		if len(got[k]) != 1 || got[k][0] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestAssemblePrecedence(t *testing.T) {
	_, tg := testTarget(t)
	sources := []Source{
		{"project trigger", []byte("User alice\nCompression yes\nHost elsewhere\n  ServerAliveInterval 7")},
		{"system trigger", []byte("User bob\nConnectTimeout 9\nServerAliveInterval 3\n")},
		{"project file", []byte("Port 22\nHostName example.org\nForwardAgent yes\n")},
		{"user file", []byte("ConnectTimeout 1\nHost virtdev-p\n  SendEnv LANG\nHost virtdev-q\n  User carol\n")},
	}
	got := effective(t, tg, sources)
	for k, v := range map[string]string{
		"user":                "alice",     // the project's trigger outranks everything
		"compression":         "yes",       // a trigger adds what virtdev does not set
		"connecttimeout":      "9",         // system trigger over the user's file
		"serveraliveinterval": "3",         // a Host block left open does not swallow the next source
		"hostname":            "127.0.0.1", // where the machine is cannot be overridden
		"port":                "2345",
		"forwardagent":        "yes", // a user's own file may relax a default
		"sendenv":             "LANG",
	} {
		if len(got[k]) != 1 || got[k][0] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestAssembleQuotesPaths(t *testing.T) {
	_, tg := testTarget(t)
	tg.Key = "/x/\"q\"/id"
	if _, err := Assemble(tg, nil); err == nil {
		t.Error("a quote in a path was written into the configuration")
	}
}

func TestConfigFiles(t *testing.T) {
	l, _ := testTarget(t)
	if got, err := ConfigFiles(l, "p"); err != nil || len(got) != 0 {
		t.Fatalf("no files: got %v, %v", got, err)
	}
	write(t, l.UserSSHConfig(), "user", 0o644)
	write(t, l.ProjectConfig("p").SSHConfig, "project", 0o644)
	write(t, l.ProjectConfig(layout.Maintenance).SSHConfig, "not for maintenance", 0o644)
	got, err := ConfigFiles(l, "p")
	if err != nil || len(got) != 2 || string(got[0].Text) != "project" || string(got[1].Text) != "user" {
		t.Errorf("project: got %q, %v", got, err)
	}
	got, err = ConfigFiles(l, layout.Maintenance)
	if err != nil || len(got) != 1 || string(got[0].Text) != "user" {
		t.Errorf("maintenance: got %q, %v", got, err)
	}
	os.Remove(l.UserSSHConfig())
	os.Mkdir(l.UserSSHConfig(), 0o755)
	if _, err := ConfigFiles(l, "p"); err == nil {
		t.Error("an unreadable ssh_config was skipped silently")
	}
}

func TestWriteConfigReplacesAtomically(t *testing.T) {
	_, tg := testTarget(t)
	for _, text := range []string{"first\n", "second\n"} {
		if err := WriteConfig(tg.Machine, []byte(text)); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(tg.Machine.SSHConfig)
		if string(data) != text {
			t.Errorf("got %q, want %q", data, text)
		}
	}
	info, _ := os.Stat(tg.Machine.SSHConfig)
	if info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 600", info.Mode())
	}
	if entries, _ := os.ReadDir(tg.Machine.Dir); len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
}

func write(t *testing.T, path, text string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}
