package fsutil

import (
	"os"
	"strings"
	"testing"
)

func TestSizeText(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 3 << 30: "3.0 GiB"} {
		if got := SizeText(n); got != want {
			t.Errorf("SizeText(%d) = %q, want %q", n, got, want)
		}
	}
}

// The room is what statfs says, and the mount is one that holds the path.
func TestSpaceOf(t *testing.T) {
	dir := t.TempDir()
	s, err := SpaceOf(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Size <= 0 || s.Free < 0 || s.Free > s.Size {
		t.Errorf("SpaceOf(%s) = %+v: sizes out of order", dir, s)
	}
	if s.MountPoint == "" || !within(dir, s.MountPoint) || s.Type == "" {
		t.Errorf("SpaceOf(%s) found the mount %q (%s)", dir, s.MountPoint, s.Type)
	}
	if !strings.Contains(s.String(), " free of ") {
		t.Errorf("String() = %q", s.String())
	}
	if _, err := SpaceOf(dir + "/missing"); !os.IsNotExist(err) {
		t.Errorf("a missing path: %v", err)
	}
}

func TestParseMountinfo(t *testing.T) {
	for line, want := range map[string]mountEntry{
		`36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`: {"98:0", "/mnt2", "ext3"},
		`86 27 0:42 / /var/tmp/my\040small rw,relatime - tmpfs tmpfs rw,size=10240k`:     {"0:42", "/var/tmp/my small", "tmpfs"},
		`86 27 0:42 / /x rw shared:1 master:2 - btrfs /dev/sda1 rw`:                      {"0:42", "/x", "btrfs"},
	} {
		got, ok := parseMountinfo(line)
		if !ok || got != want {
			t.Errorf("parseMountinfo(%q) = %+v, %v; want %+v", line, got, ok, want)
		}
	}
	for _, bad := range []string{"", "1 2 3", "36 35 98:0 / /x rw shared:1 no-separator ext4"} {
		if _, ok := parseMountinfo(bad); ok {
			t.Errorf("parseMountinfo(%q) accepted", bad)
		}
	}
}

func TestWithin(t *testing.T) {
	for _, c := range []struct {
		path, dir string
		want      bool
	}{
		{"/a/b", "/", true}, {"/a/b", "/a", true}, {"/a", "/a", true},
		{"/ab", "/a", false}, {"/a", "/a/b", false},
	} {
		if got := within(c.path, c.dir); got != c.want {
			t.Errorf("within(%q, %q) = %v", c.path, c.dir, got)
		}
	}
}

func TestSurvey(t *testing.T) {
	for point, want := range map[string]string{
		"/srv":         "du -xh -d 2 /srv | sort -h",
		"/mnt/my disk": "du -xh -d 2 '/mnt/my disk' | sort -h",
		"/mnt/it's":    `du -xh -d 2 '/mnt/it'\''s' | sort -h`,
	} {
		if got := (Space{MountPoint: point}).Survey(); got != want {
			t.Errorf("Survey() on %q = %q, want %q", point, got, want)
		}
	}
}
