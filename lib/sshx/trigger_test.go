package sshx

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
)

func collectWarnings(warnings *[]string) func(string, ...any) {
	return func(format string, args ...any) { *warnings = append(*warnings, fmt.Sprintf(format, args...)) }
}

func TestTriggersOrderAndSkips(t *testing.T) {
	l, _ := testTarget(t)
	system, project := l.Trigger(PreSSH), l.ProjectConfig("p").Trigger(PreSSH)
	var warnings []string
	if got := Triggers(l, "p", PreSSH, collectWarnings(&warnings)); len(got) != 0 || len(warnings) != 0 {
		t.Fatalf("none present: got %v, warnings %v", got, warnings)
	}
	write(t, system, "#!/bin/sh\n", 0o755)
	write(t, project, "#!/bin/sh\n", 0o755)
	if got := Triggers(l, "p", PreSSH, collectWarnings(&warnings)); len(got) != 2 || got[0] != system || got[1] != project {
		t.Errorf("got %v, want system then project", got)
	}
	if got := Triggers(l, layout.Maintenance, PreSSH, collectWarnings(&warnings)); len(got) != 1 || got[0] != system {
		t.Errorf("maintenance: got %v, want the system trigger only", got)
	}
	os.Chmod(project, 0o644)
	got := Triggers(l, "p", PreSSH, collectWarnings(&warnings))
	if len(got) != 1 || len(warnings) != 1 || !strings.Contains(warnings[0], "chmod +x "+project) {
		t.Errorf("not executable: got %v, warnings %v", got, warnings)
	}
}

func TestRunPreSSH(t *testing.T) {
	l, tg := testTarget(t)
	system, project := l.Trigger(PreSSH), l.ProjectConfig("p").Trigger(PreSSH)
	log := filepath.Join(t.TempDir(), "log")
	// Each trigger logs its name and environment, tries to read stdin, and
	// prints one configuration line.
	script := `#!/bin/sh
read -r line && echo "$0 read stdin" >>` + log + `
echo "$0 $VIRTDEV_PROJECT $VIRTDEV_PORT $VIRTDEV_SSH_KEY $INHERITED" >>` + log + `
echo "SetEnv FROM=$(basename $(dirname $(dirname $0)))"
echo "message from $0" >&2
`
	write(t, system, script, 0o755)
	write(t, project, script, 0o755)
	env := TriggerEnv([]string{"INHERITED=yes", "PATH=" + os.Getenv("PATH")}, tg)
	var stderr bytes.Buffer
	sources, err := RunPreSSH(context.Background(), Triggers(l, "p", PreSSH, t.Errorf), env, &stderr, t.Errorf)
	if err != nil {
		t.Fatal(err)
	}
	if len(sources) != 2 || sources[0].Origin != project || sources[1].Origin != system {
		t.Fatalf("sources %v: want the project's output first", sources)
	}
	if string(sources[0].Text) != "SetEnv FROM=p\n" || string(sources[1].Text) != "SetEnv FROM=config\n" {
		t.Errorf("outputs %q, %q", sources[0].Text, sources[1].Text)
	}
	data, _ := os.ReadFile(log)
	want := fmt.Sprintf("%s p 2345 %s yes\n%s p 2345 %s yes\n", system, tg.Key, project, tg.Key)
	if string(data) != want {
		t.Errorf("log:\n%s\nwant (system first, no stdin):\n%s", data, want)
	}
	if !strings.Contains(stderr.String(), "message from "+system) {
		t.Errorf("stderr %q lacks the triggers' messages", stderr.String())
	}
}

func TestRunPreSSHRefusal(t *testing.T) {
	l, tg := testTarget(t)
	system, project := l.Trigger(PreSSH), l.ProjectConfig("p").Trigger(PreSSH)
	marker := filepath.Join(t.TempDir(), "ran")
	write(t, system, "#!/bin/sh\nexit 3\n", 0o755)
	write(t, project, "#!/bin/sh\ntouch "+marker+"\n", 0o755)
	_, err := RunPreSSH(context.Background(), Triggers(l, "p", PreSSH, t.Errorf), TriggerEnv(nil, tg), &bytes.Buffer{}, t.Errorf)
	if exitcode.For(err) != exitcode.TriggerRefused.N || !strings.Contains(err.Error(), system) || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("got %v (exit %d), want exit 80 naming %s and its status", err, exitcode.For(err), system)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the project trigger ran after the system trigger refused")
	}
	write(t, system, "#!/nonexistent/interpreter\n", 0o755)
	_, err = RunPreSSH(context.Background(), Triggers(l, "p", PreSSH, t.Errorf), TriggerEnv(nil, tg), &bytes.Buffer{}, t.Errorf)
	if exitcode.For(err) != exitcode.TriggerRefused.N {
		t.Errorf("a trigger that cannot run: got %v, want exit 80", err)
	}
}

func TestRunPostSSH(t *testing.T) {
	l, tg := testTarget(t)
	system, project := l.Trigger(PostSSH), l.ProjectConfig("p").Trigger(PostSSH)
	log := filepath.Join(t.TempDir(), "log")
	write(t, system, "#!/bin/sh\necho \"$0 $VIRTDEV_SSH_EXIT\" >>"+log+"\necho ignored\nexit 1\n", 0o755)
	write(t, project, "#!/bin/sh\necho \"$0 $VIRTDEV_SSH_EXIT\" >>"+log+"\n", 0o755)
	var warnings []string
	var stderr bytes.Buffer
	RunPostSSH(context.Background(), Triggers(l, "p", PostSSH, t.Errorf), TriggerEnv(nil, tg), 42, time.Minute, &stderr, collectWarnings(&warnings))
	data, _ := os.ReadFile(log)
	if want := system + " 42\n" + project + " 42\n"; string(data) != want {
		t.Errorf("log %q, want %q", data, want)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], system) || !strings.Contains(warnings[0], "exit status 1") {
		t.Errorf("warnings %q, want one for %s", warnings, system)
	}
	if stderr.Len() != 0 {
		t.Errorf("the trigger's stdout reached stderr: %q", stderr.String())
	}
}

func TestTriggerEnvReplacesStaleValues(t *testing.T) {
	_, tg := testTarget(t)
	env := TriggerEnv([]string{"VIRTDEV_PORT=1", "KEEP=1", "VIRTDEV_SSH_EXIT=0", "VIRTDEV_PROJECT=old"}, tg)
	want := []string{"KEEP=1", "VIRTDEV_PROJECT=p", "VIRTDEV_PORT=2345", "VIRTDEV_SSH_KEY=" + tg.Key}
	if strings.Join(env, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %q, want %q", env, want)
	}
}

// Defect 13: a pre-ssh trigger that leaves a process in the background
// holding its output does not hold the connection with it.
func TestRunPreSSHDoesNotWaitForBackgroundChildren(t *testing.T) {
	l, tg := testTarget(t)
	write(t, l.Trigger(PreSSH), "#!/bin/sh\nsleep 60 &\necho SetEnv FROM=trigger\n", 0o755)
	var warnings []string
	begin := time.Now()
	sources, err := RunPreSSH(context.Background(), Triggers(l, "p", PreSSH, t.Errorf),
		TriggerEnv([]string{"PATH=" + os.Getenv("PATH")}, tg), &bytes.Buffer{}, collectWarnings(&warnings))
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(begin); d > 20*time.Second {
		t.Errorf("waited %s for the trigger's background child", d)
	}
	if len(sources) != 1 || string(sources[0].Text) != "SetEnv FROM=trigger\n" {
		t.Errorf("sources %q", sources)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "left a process behind") {
		t.Errorf("warnings %q", warnings)
	}
}

// Defect 13: a post-ssh trigger gets a time limit, and a warning when it
// runs out.
func TestRunPostSSHTimeLimit(t *testing.T) {
	l, tg := testTarget(t)
	write(t, l.Trigger(PostSSH), "#!/bin/sh\nexec sleep 60\n", 0o755)
	var warnings []string
	begin := time.Now()
	RunPostSSH(context.Background(), Triggers(l, "p", PostSSH, t.Errorf), TriggerEnv([]string{"PATH=" + os.Getenv("PATH")}, tg),
		0, 200*time.Millisecond, &bytes.Buffer{}, collectWarnings(&warnings))
	if d := time.Since(begin); d > 20*time.Second {
		t.Errorf("the post-ssh trigger ran for %s", d)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "did not finish within 200ms") {
		t.Errorf("warnings %q", warnings)
	}
}
