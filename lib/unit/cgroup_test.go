package unit

import (
	"os"
	"path"
	"strings"
	"testing"
)

// The test process's own cgroup stands for a unit's.
func TestInGroup(t *testing.T) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Skipf("no /proc/self/cgroup: %v", err)
	}
	own := ""
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "0::"); ok {
			own = rest
		}
	}
	if own == "" || own == "/" {
		t.Skipf("this process is in no cgroup of its own: %q", data)
	}
	pid := os.Getpid()
	for group, want := range map[string]bool{
		own:              true,
		path.Dir(own):    own != "/" && path.Dir(own) != "/", // a parent holds the process too
		own + "-sibling": false,
		own + "/child":   false,
		"/":              false,
		"":               false,
	} {
		if got, err := InGroup(pid, group); err != nil || got != want {
			t.Errorf("InGroup(self, %q) = %v, %v; want %v", group, got, err, want)
		}
	}
	if _, err := InGroup(1<<30, own); err == nil {
		t.Error("a process that does not exist was found")
	}
}
