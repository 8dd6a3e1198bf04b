package unit

import (
	"slices"
	"testing"
)

// argvs reads what godbus decodes systemd's exec lists (a(sasbttttuii))
// into: one []any per command, its argv second.
func TestArgvs(t *testing.T) {
	value := [][]any{
		{"/usr/bin/qemu-system-x86_64", []string{"/usr/bin/qemu-system-x86_64", "-name", "virtdev-p"}, false, uint64(0)},
		{"/bin/rm", []string{"/bin/rm", "-f", "/home/u/port"}, false},
		{"/malformed"},
	}
	got := argvs(value)
	if len(got) != 2 || !slices.Equal(got[1], []string{"/bin/rm", "-f", "/home/u/port"}) {
		t.Errorf("argvs = %q", got)
	}
	if argvs("not a list") != nil {
		t.Error("a value of another type gave commands")
	}
}
