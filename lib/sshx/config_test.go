package sshx

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	path, cleanup, err := WriteConfig(tg.Machine, config)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	out, err := exec.Command(sshPath, "-G", "-F", path, tg.Alias()).CombinedOutput()
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
		"stricthostkeychecking": "true", // yes, as ssh -G prints it
		"updatehostkeys":        "false",
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

// Defect 14: every connection has a private file of its own, mode 600,
// gone when the connection is over.
func TestWriteConfigPrivatePerConnection(t *testing.T) {
	_, tg := testTarget(t)
	a, cleanA, err := WriteConfig(tg.Machine, []byte("first\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, cleanB, err := WriteConfig(tg.Machine, []byte("second\n"))
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatalf("two connections share %s", a)
	}
	for path, text := range map[string]string{a: "first\n", b: "second\n"} {
		data, _ := os.ReadFile(path)
		info, _ := os.Stat(path)
		if string(data) != text || info.Mode().Perm() != 0o600 {
			t.Errorf("%s holds %q, mode %v; want %q, 600", path, data, info.Mode(), text)
		}
	}
	cleanA()
	cleanB()
	if entries, _ := os.ReadDir(tg.Machine.Dir); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}

// The file of a connection whose program was killed (no lock held any
// more) is removed by a later connection; a live one is left alone.
func TestWriteConfigRemovesLeftovers(t *testing.T) {
	_, tg := testTarget(t)
	live, cleanup, err := WriteConfig(tg.Machine, []byte("live\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	dead := tg.Machine.SSHConfig + ".killed"
	write(t, dead, "dead\n", 0o600)
	old := time.Now().Add(-time.Hour)
	for _, p := range []string{live, dead} {
		os.Chtimes(p, old, old)
	}
	_, cleanNew, err := WriteConfig(tg.Machine, []byte("new\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer cleanNew()
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Error("the killed connection's file is still there")
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("a live connection's file was removed: %v", err)
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
