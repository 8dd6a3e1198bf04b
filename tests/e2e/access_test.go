//go:build e2e

package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Exit codes of the access programs the suite pins; each program
// documents them in its --help.
const (
	notRunning      = 4  // shared: the machine is not running
	triggerRefused  = 80 // shared: a pre-ssh trigger refused the connection
	logNoJournal    = 10
	transferPartial = 13
)

// idleProject is created in the shared suite and never started: the
// stopped side of every program, without a boot.
const idleProject = "e2e-idle"

// TestAccess sees and reaches the shared machine with every access and
// inspection program, and a machine that never ran with the same programs.
func TestAccess(t *testing.T) {
	s, p := sharedMachine(t)
	s.ok(t, time.Minute, "virtdev-create", idleProject)
	t.Cleanup(func() { s.run(t, time.Minute, "virtdev-destroy", "--yes", idleProject) })

	t.Run("stopped", func(t *testing.T) { s.stoppedMachine(t, idleProject) })
	t.Run("running", func(t *testing.T) { s.runningMachine(t, p) })
	t.Run("list", func(t *testing.T) { s.listAgrees(t, p, idleProject) })
	t.Run("log", func(t *testing.T) { s.log(t, p) })
	t.Run("monitor", func(t *testing.T) { s.monitor(t, p) })
	t.Run("console", func(t *testing.T) { s.console(t, p) })
	t.Run("transfer", func(t *testing.T) { s.transfer(t, p) })
	t.Run("ssh-config", func(t *testing.T) { s.sshConfig(t, p, idleProject) })
	t.Run("triggers", func(t *testing.T) { s.triggers(t, p) })
}

// stoppedMachine: what every program says of a project whose machine
// never ran.
func (s *suite) stoppedMachine(t *testing.T, p string) {
	if got := s.ok(t, time.Minute, "virtdev-status", p); got != "stopped\n" {
		t.Errorf("virtdev-status %s printed %q, want stopped", p, got)
	}
	for _, args := range [][]string{
		{"virtdev-port", p}, {"virtdev-pid", p}, {"virtdev-monitor", p, "info", "status"},
		{"virtdev-console", "--force", p}, {"virtdev-transfer", p, "a", ":b"},
	} {
		s.refuses(t, notRunning, p+" is not running", args[0], args[1:]...)
	}
	// The disks are there to look at all the same: deltas over the base.
	var disks diskReport
	s.decode(t, &disks, "virtdev-disk", "--json", p)
	base := s.path(t, "base")
	if disks.Detached || len(disks.Disks) != 2 || disks.Disks[0].BackingFile != filepath.Join(base, "system.qcow2") ||
		disks.Disks[1].BackingFile != filepath.Join(base, "home.qcow2") {
		t.Errorf("virtdev-disk --json %s: %+v, want two deltas over %s", p, disks, base)
	}
}

// diskReport is virtdev-disk --json.
type diskReport struct {
	Project  string `json:"project"`
	Detached bool   `json:"detached"`
	Disks    []struct {
		Name          string `json:"name"`
		Format        string `json:"format"`
		VirtualSize   int64  `json:"virtual_size"`
		Allocated     int64  `json:"allocated"`
		BackingFile   string `json:"backing_file"`
		BackingFormat string `json:"backing_format"`
	} `json:"disks"`
}

// machineState is virtdev-status --json, and a project of virtdev-list
// --json.
type machineState struct {
	Project    string `json:"project"`
	State      string `json:"state"`
	QEMU       string `json:"qemu"`
	Reason     string `json:"reason"`
	Port       *int   `json:"port"`
	Generation *int   `json:"generation"`
	Detached   bool   `json:"detached"`
	Stale      bool   `json:"stale"`
}

// decode runs a program that prints JSON and decodes its output into v.
func (s *suite) decode(t *testing.T, v any, program string, args ...string) {
	t.Helper()
	out := s.ok(t, time.Minute, program, args...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("%s %s printed no JSON (%v): %q", program, strings.Join(args, " "), err, out)
	}
}

// runningMachine: status, port and pid of a running machine, and its disks
// read while it runs.
func (s *suite) runningMachine(t *testing.T, p string) {
	var st machineState
	s.decode(t, &st, "virtdev-status", "--json", p)
	if st.State != "running" || st.QEMU != "running" || st.Reason != "" {
		t.Errorf("virtdev-status --json %s: %+v, want running as QEMU says", p, st)
	}
	port := strings.TrimSpace(s.ok(t, time.Minute, "virtdev-port", p))
	if file := strings.TrimSpace(s.read(t, s.path(t, p, "port"))); port != file {
		t.Errorf("virtdev-port printed %s, the port file says %s", port, file)
	}
	pid := strings.TrimSpace(s.ok(t, time.Minute, "virtdev-pid", p))
	comm, err := os.ReadFile("/proc/" + pid + "/comm")
	if err != nil || !strings.HasPrefix(string(comm), "qemu-system") {
		t.Errorf("virtdev-pid printed %s, a process named %q (%v), want QEMU", pid, comm, err)
	}
	var disks diskReport
	s.decode(t, &disks, "virtdev-disk", "--json", p)
	if len(disks.Disks) != 2 || disks.Disks[1].Allocated == 0 || disks.Disks[1].VirtualSize == 0 {
		t.Errorf("virtdev-disk --json of a running machine: %+v", disks)
	}
}

// listAgrees checks that virtdev-list --json says what status and port say.
func (s *suite) listAgrees(t *testing.T, running, idle string) {
	var list struct {
		BaseGeneration *int           `json:"base_generation"`
		Projects       []machineState `json:"projects"`
	}
	s.decode(t, &list, "virtdev-list", "--json")
	if list.BaseGeneration == nil {
		t.Errorf("virtdev-list --json: no base generation")
	}
	found := 0
	for _, e := range list.Projects {
		var st machineState
		s.decode(t, &st, "virtdev-status", "--json", e.Project)
		if e.State != st.State || e.QEMU != st.QEMU {
			t.Errorf("virtdev-list says %s is %s (QEMU %q), virtdev-status says %s (QEMU %q)", e.Project, e.State, e.QEMU, st.State, st.QEMU)
		}
		r := s.run(t, time.Minute, "virtdev-port", e.Project)
		switch {
		case e.Port == nil && r.code != notRunning:
			t.Errorf("virtdev-list gives %s no port, virtdev-port exits %d: %q", e.Project, r.code, r.stdout)
		case e.Port != nil && strings.TrimSpace(r.stdout) != strconv.Itoa(*e.Port):
			t.Errorf("virtdev-list gives %s port %d, virtdev-port says %q", e.Project, *e.Port, r.stdout)
		}
		if e.Project == running || e.Project == idle {
			found++
			if e.Generation == nil || list.BaseGeneration == nil || *e.Generation != *list.BaseGeneration || e.Stale {
				t.Errorf("virtdev-list: %s has generation %v, stale %v; want the base's", e.Project, e.Generation, e.Stale)
			}
		}
	}
	if found != 2 {
		t.Errorf("virtdev-list --json lists %d of %s and %s: %+v", found, running, idle, list.Projects)
	}
	table := s.ok(t, time.Minute, "virtdev-list")
	if !regexp.MustCompile(`(?m)^`+running+` +\d+ +running +\d+ +wan$`).MatchString(table) ||
		!regexp.MustCompile(`(?m)^`+idle+` +- +stopped +\d+ +wan$`).MatchString(table) {
		t.Errorf("virtdev-list:\n%s", table)
	}
}

// log: the unit's journal where there is one; where there is none (as on
// hosts without systemd as PID 1), exit 10 and what to use instead.
func (s *suite) log(t *testing.T, p string) {
	r := s.run(t, time.Minute, "virtdev-log", "-n", "20", p)
	header, _ := exec.Command("journalctl", "--user", "--header").Output()
	_, sockErr := os.Stat("/run/systemd/journal/socket")
	if sockErr != nil && len(bytes.TrimSpace(header)) == 0 {
		if r.code != logNoJournal || r.stdout != "" || !strings.Contains(r.stderr, "virtdev-console "+p) ||
			!strings.Contains(r.stderr, "systemctl --user status virtdev-"+p+".service") {
			t.Errorf("virtdev-log without a journal: exit %d, stdout %q, want %d naming the console and systemctl:\n%s", r.code, r.stdout, logNoJournal, r.stderr)
		}
		return
	}
	if r.code != 0 || !strings.Contains(r.stdout, "virtdev") {
		t.Errorf("virtdev-log with a journal: exit %d, stdout %q:\n%s", r.code, r.stdout, r.stderr)
	}
}

// monitor: commands of the human monitor, several clients at once, and a
// guest paused through it as status and list see it.
func (s *suite) monitor(t *testing.T, p string) {
	if out := s.ok(t, time.Minute, "virtdev-monitor", p, "info", "status"); out != "VM status: running\n" {
		t.Errorf("virtdev-monitor %s info status printed %q", p, out)
	}
	// Several at once, with status asking QEMU too: each connection is
	// short, so all get through.
	var wg sync.WaitGroup
	results := make([]result, 6)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				results[i] = s.run(t, time.Minute, "virtdev-monitor", p, "info", "status")
			} else {
				results[i] = s.run(t, time.Minute, "virtdev-status", "--json", p)
			}
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.code != 0 || !strings.Contains(r.stdout, "running") {
			t.Errorf("client %d of 6 at once: exit %d, %q:\n%s", i, r.code, r.stdout, r.stderr)
		}
	}

	s.ok(t, time.Minute, "virtdev-monitor", p, "stop")
	t.Cleanup(func() { s.run(t, time.Minute, "virtdev-monitor", p, "cont") })
	r := s.run(t, time.Minute, "virtdev-status", p)
	if r.stdout != "paused\n" || !strings.Contains(r.stderr, "(QEMU status paused)") {
		t.Errorf("virtdev-status of a paused guest: %q, stderr %q", r.stdout, r.stderr)
	}
	if table := s.ok(t, time.Minute, "virtdev-list"); !regexp.MustCompile(`(?m)^` + p + ` +\d+ +paused `).MatchString(table) {
		t.Errorf("virtdev-list of a paused guest:\n%s", table)
	}
	s.ok(t, time.Minute, "virtdev-monitor", p, "cont")
	if out := s.ok(t, time.Minute, "virtdev-status", p); out != "running\n" {
		t.Errorf("virtdev-status after cont: %q", out)
	}
}

// console: the serial console through a terminal: a prompt, a command that
// runs, the login prompt after a logout, and Ctrl-] detaching.
func (s *suite) console(t *testing.T, p string) {
	c := s.onTerminal(t, "virtdev-console", p)
	c.expect(t, "Detach with Ctrl-]", time.Minute)
	c.send(t, "\r")
	c.expect(t, "dev@"+p, time.Minute)
	c.send(t, "echo console-$((6*7))\r")
	c.expect(t, "console-42\r\n", time.Minute)
	// The shell ends; the serial getty logs dev in again, saying so.
	c.send(t, "exit\r")
	c.expect(t, p+" login: ", 2*time.Minute)
	c.send(t, "\x1d")
	if code := c.wait(t, time.Minute); code != 0 {
		t.Fatalf("virtdev-console after Ctrl-]: exit %d:\n%s", code, c.out)
	}
	c.expect(t, "Detached from the console of "+p, time.Second)
	// A console someone holds is refused, not waited for.
	holder := s.onTerminal(t, "virtdev-console", p)
	holder.expect(t, "Detach with Ctrl-]", time.Minute)
	s.refuses(t, 11, "someone is attached to the console of "+p, "virtdev-console", "--force", p)
	holder.send(t, "\x1d")
	holder.wait(t, time.Minute)
}

// transfer: files with spaces and non-ASCII names, and a 50 MB one, to the
// machine and back, byte for byte; and a partial transfer's own code.
func (s *suite) transfer(t *testing.T, p string) {
	src := filepath.Join(s.root, "transfer", "from host")
	files := map[string][]byte{
		"with space.txt":          []byte("a name with a space\n"),
		"naïve café ü.txt":        []byte("ünïcödé\n"),
		"sub dir/ünï 'quoted'.md": []byte("nested, quoted\n"),
		"big file.bin":            randomBytes(t, 50<<20),
	}
	for name, data := range files {
		s.write(t, filepath.Join(src, name), string(data))
	}
	s.ok(t, time.Minute, "virtdev-ssh", p, "--", "rm -rf e2e-transfer && mkdir e2e-transfer")
	t.Cleanup(func() { s.run(t, time.Minute, "virtdev-ssh", p, "--", "rm -rf e2e-transfer") })

	began := time.Now()
	s.ok(t, 10*time.Minute, "virtdev-transfer", p, src+"/", ":e2e-transfer/in guest")
	t.Logf("FIGURE transfer of 50 MB and 3 small files to the guest: %s", time.Since(began).Round(100*time.Millisecond))
	want := treeSums(t, src)
	guest := s.ok(t, 2*time.Minute, "virtdev-ssh", p, "--",
		`cd "e2e-transfer/in guest" && find . -type f -print0 | sort -z | xargs -0 sha256sum`)
	if got := parseSums(guest); !mapsEqual(got, want) {
		t.Errorf("in the guest:\n%v\nwant\n%v", got, want)
	}

	back := filepath.Join(s.root, "transfer", "back on host")
	began = time.Now()
	s.ok(t, 10*time.Minute, "virtdev-transfer", "--verbose", p, ":e2e-transfer/in guest/", back)
	t.Logf("FIGURE transfer of 50 MB and 3 small files from the guest: %s", time.Since(began).Round(100*time.Millisecond))
	if got := treeSums(t, back); !mapsEqual(got, want) {
		t.Errorf("back on the host:\n%v\nwant\n%v", got, want)
	}
	// One file by its name in the guest, into a host name with a colon.
	s.ok(t, time.Minute, "virtdev-transfer", p, ":~/e2e-transfer/in guest/naïve café ü.txt", filepath.Join(s.root, "transfer", "a:b.txt"))
	if got := s.read(t, filepath.Join(s.root, "transfer", "a:b.txt")); got != string(files["naïve café ü.txt"]) {
		t.Errorf("a single file came back as %q", got)
	}
	s.refuses(t, transferPartial, "not everything was copied from "+p, "virtdev-transfer", p, ":e2e-transfer/no such file", back)
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// treeSums fingerprints every file below dir, by its path relative to it,
// as sha256sum does in the guest.
func treeSums(t *testing.T, dir string) map[string]string {
	t.Helper()
	out, err := exec.Command("sh", "-c", `cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum`, "-", dir).Output()
	if err != nil {
		t.Fatalf("sha256sum below %s: %v", dir, err)
	}
	return parseSums(string(out))
}

func parseSums(out string) map[string]string {
	sums := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if sum, name, ok := strings.Cut(line, "  "); ok {
			sums[name] = sum
		}
	}
	return sums
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// sshConfig: the printed Host blocks, included from a configuration that
// sets the opposite of everything afterwards, let plain ssh and rsync reach
// the machine; the stopped project's block says so and fails cleanly.
func (s *suite) sshConfig(t *testing.T, p, idle string) {
	blocks := filepath.Join(s.root, "ssh-config", "virtdev.conf")
	s.write(t, blocks, s.ok(t, time.Minute, "virtdev-ssh-config"))
	if text := s.read(t, blocks); !strings.Contains(text, "Host virtdev-"+idle+"\n\t# "+idle+" is stopped") {
		t.Errorf("the block of the stopped project does not say so:\n%s", text)
	}
	config := filepath.Join(s.root, "ssh-config", "config")
	s.write(t, config, "Include "+blocks+"\n"+poison)
	plain := func(name string, args ...string) result {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = s.env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		r := result{stdout: stdout.String(), stderr: stderr.String()}
		if err != nil {
			r.code = -1
			if exit, ok := err.(*exec.ExitError); ok {
				r.code = exit.ExitCode()
			}
		}
		t.Logf("%s %s → exit %d\n%s", name, strings.Join(args, " "), r.code, r.stderr)
		return r
	}
	if r := plain("ssh", "-F", config, "virtdev-"+p, "hostname"); r.code != 0 || r.stdout != p+"\n" {
		t.Errorf("plain ssh virtdev-%s hostname: exit %d, %q", p, r.code, r.stdout)
	}
	file := filepath.Join(s.root, "ssh-config", "through rsync.txt")
	s.write(t, file, "plain rsync\n")
	if r := plain("rsync", "-s", "-e", "ssh -F "+config, file, "virtdev-"+p+":"); r.code != 0 {
		t.Errorf("plain rsync through the block: exit %d", r.code)
	}
	if out := s.ok(t, time.Minute, "virtdev-ssh", p, "--", "cat 'through rsync.txt' && rm 'through rsync.txt'"); out != "plain rsync\n" {
		t.Errorf("the file rsync copied holds %q", out)
	}
	if r := plain("ssh", "-F", config, "virtdev-"+idle, "true"); r.code != 255 || !strings.Contains(r.stderr, idle+" is not running") {
		t.Errorf("plain ssh to the stopped project: exit %d, want 255 with the proxy's word:\n%s", r.code, r.stderr)
	}
}

// poison is an OpenSSH configuration that would break every connection it
// applied to: ssh keeps the first value it reads, so the blocks included
// before it, and virtdev's own configurations, must win.
const poison = `Host *
  ProxyCommand /bin/false
  User nobody
  Port 1
  IdentityFile /nonexistent
  ForwardAgent yes
  StrictHostKeyChecking yes
  UserKnownHostsFile /dev/null
`

// triggers: pre-ssh and post-ssh, system then project, around virtdev-ssh
// and virtdev-transfer, with their environment; a pre-ssh's output as
// configuration; a refusing pre-ssh; a failing post-ssh; and the user's
// ~/.ssh/config never read.
func (s *suite) triggers(t *testing.T, p string) {
	log := filepath.Join(s.root, "triggers.log")
	conf := filepath.Join(s.root, "config", "virtdev")
	system, project := filepath.Join(conf, "triggers"), filepath.Join(conf, "projects", p, "triggers")
	t.Cleanup(func() { os.RemoveAll(system); os.RemoveAll(project) })
	trigger := func(path, body string) {
		t.Helper()
		s.write(t, path, "#!/bin/sh\n"+body)
		if err := os.Chmod(path, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	record := func(who string) string {
		return fmt.Sprintf(`echo "%s $VIRTDEV_PROJECT $VIRTDEV_PORT $VIRTDEV_SSH_KEY ${VIRTDEV_SSH_EXIT-}" >> %q`+"\n", who, log)
	}
	trigger(filepath.Join(system, "pre-ssh"), record("system-pre")+
		"echo 'PermitLocalCommand yes'\necho \"LocalCommand echo system-local >> '"+log+"'\"\n")
	trigger(filepath.Join(project, "pre-ssh"), record("project-pre")+
		"echo \"LocalCommand echo project-local >> '"+log+"'\"\n")
	trigger(filepath.Join(system, "post-ssh"), record("system-post"))
	trigger(filepath.Join(project, "post-ssh"), record("project-post")+"exit 1\n")

	port := strings.TrimSpace(s.read(t, s.path(t, p, "port")))
	key := s.getenv("VIRTDEV_SSH_KEY")
	r := s.run(t, 2*time.Minute, "virtdev-ssh", p, "--", "exit 3")
	if r.code != 3 || !strings.Contains(r.stderr, "warning: post-ssh trigger "+filepath.Join(project, "post-ssh")+" failed") {
		t.Errorf("virtdev-ssh with triggers: exit %d, want 3 and a warning for the failing post-ssh:\n%s", r.code, r.stderr)
	}
	// The project's configuration outranks the system's: its LocalCommand
	// runs, with the system's PermitLocalCommand.
	want := []string{
		"system-pre " + p + " " + port + " " + key + " ",
		"project-pre " + p + " " + port + " " + key + " ",
		"project-local",
		"system-post " + p + " " + port + " " + key + " 3",
		"project-post " + p + " " + port + " " + key + " 3",
	}
	s.logSays(t, log, want)

	// virtdev-transfer connects through the same assembly.
	file := filepath.Join(s.root, "trigger-transfer.txt")
	s.write(t, file, "x\n")
	s.run(t, time.Minute, "virtdev-transfer", p, file, ":")
	s.logSays(t, log, []string{
		"system-pre " + p + " " + port + " " + key + " ",
		"project-pre " + p + " " + port + " " + key + " ",
		"project-local",
		"system-post " + p + " " + port + " " + key + " 0",
		"project-post " + p + " " + port + " " + key + " 0",
	})

	// A refusing pre-ssh: exit 80, no connection, no post-ssh.
	trigger(filepath.Join(project, "pre-ssh"), record("project-refuses")+"echo 'not now' >&2\nexit 9\n")
	s.refuses(t, triggerRefused, "not now", "virtdev-ssh", p, "--", "touch e2e-trigger-marker")
	s.logSays(t, log, []string{"system-pre " + p + " " + port + " " + key + " ", "project-refuses " + p + " " + port + " " + key + " "})
	os.Remove(filepath.Join(project, "pre-ssh"))
	if out := s.ok(t, time.Minute, "virtdev-ssh", p, "--", "test -e e2e-trigger-marker && echo present || echo absent"); !strings.HasSuffix(out, "absent\n") {
		t.Errorf("the refused connection ran its command: %q", out)
	}
	os.RemoveAll(system)
	os.RemoveAll(project)
	os.Remove(log)

	s.sshConfigNeverRead(t, p)
}

// logSays checks the triggers' log holds exactly want, and empties it.
func (s *suite) logSays(t *testing.T, log string, want []string) {
	t.Helper()
	data, _ := os.ReadFile(log)
	got := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if !slices.Equal(got, want) {
		t.Errorf("the triggers' log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	os.Remove(log)
}

// sshConfigNeverRead runs virtdev-ssh with the poison in the user's own
// ~/.ssh/config, which OpenSSH finds through the password database, not
// HOME: in a mount namespace of its own where a directory holding the
// poison is mounted over the user's home directory (the real one is never
// touched), under the user's own uid.
func (s *suite) sshConfigNeverRead(t *testing.T, p string) {
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(s.root, "poisoned home")
	s.write(t, filepath.Join(home, ".ssh", "config"), poison)
	inNamespace := func(args ...string) result {
		t.Helper()
		script := `mount --bind "$1" "$2" && shift 2 && exec unshare --user --map-user="$UID_OUTSIDE" --map-group="$GID_OUTSIDE" "$@"`
		cmd := exec.Command("unshare", append([]string{"--user", "--map-root-user", "--mount", "sh", "-c", script, "sh", home, me.HomeDir}, args...)...)
		cmd.Env = append(slices.Clone(s.env), "UID_OUTSIDE="+me.Uid, "GID_OUTSIDE="+me.Gid)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		r := result{stdout: stdout.String(), stderr: stderr.String()}
		if exit, ok := err.(*exec.ExitError); ok {
			r.code = exit.ExitCode()
		} else if err != nil {
			t.Fatalf("unshare: %v (the test needs unprivileged user namespaces)", err)
		}
		return r
	}
	// The poison is in force for plain ssh there,
	if r := inNamespace("ssh", "-G", "virtdev-"+p); !strings.Contains(r.stdout, "proxycommand /bin/false") {
		t.Fatalf("the poisoned ~/.ssh/config is not what ssh reads in the namespace: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// and virtdev-ssh does not care.
	if r := inNamespace(filepath.Join(s.bin, "virtdev-ssh"), p, "hostname"); r.code != 0 || r.stdout != p+"\n" {
		t.Errorf("virtdev-ssh with a poisoned ~/.ssh/config: exit %d, %q:\n%s", r.code, r.stdout, r.stderr)
	}
}

// stopWhileMonitored stops a running machine while an interactive monitor
// stays open and one-shot monitors keep asking: virtdev-stop must still end
// it cleanly, and the open monitor learn that it is gone. (TestLifecycle
// runs it on a machine of its own, since it stops it.)
func (s *suite) stopWhileMonitored(t *testing.T, p string) {
	session := s.onTerminal(t, "virtdev-monitor", p)
	session.expect(t, "(qemu) ", time.Minute)
	session.send(t, "info status\r")
	session.expect(t, "VM status: running", time.Minute)

	stopped := make(chan result, 1)
	go func() { stopped <- s.run(t, 3*time.Minute, "virtdev-stop", p) }()
	asked := 0
	for done := false; !done; {
		select {
		case r := <-stopped:
			if r.code != 0 || strings.TrimSpace(r.stdout) != "clean" {
				t.Errorf("virtdev-stop while monitors ask: exit %d, %q, want clean:\n%s", r.code, r.stdout, r.stderr)
			}
			done = true
		default:
			r := s.run(t, time.Minute, "virtdev-monitor", p, "info", "status")
			switch {
			case r.code == 0 && strings.HasPrefix(r.stdout, "VM status: "):
				asked++
			case r.code == notRunning || r.code == 5:
				// QEMU has ended; stop is about to return.
			default:
				t.Errorf("virtdev-monitor during the stop: exit %d, %q:\n%s", r.code, r.stdout, r.stderr)
			}
		}
	}
	if asked == 0 {
		t.Error("no monitor got through while the machine stopped")
	}
	t.Logf("%d monitor commands went through during the stop", asked)
	// The open session learns the machine is gone at its next command.
	session.send(t, "info status\r")
	if code := session.wait(t, time.Minute); code != notRunning {
		t.Errorf("the interactive monitor after the stop: exit %d, want %d:\n%s", code, notRunning, session.out)
	}
}
