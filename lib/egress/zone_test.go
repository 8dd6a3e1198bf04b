package egress

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseZone(t *testing.T) {
	for _, z := range Zones {
		got, err := ParseZone(string(z))
		if err != nil || got != z {
			t.Errorf("ParseZone(%q) = %q, %v", z, got, err)
		}
	}
	for _, word := range []string{"", "WAN", " wan", "wan\n", "lan", "public"} {
		_, err := ParseZone(word)
		if err == nil {
			t.Errorf("ParseZone(%q) accepted", word)
			continue
		}
		if want := "choose none, wan or full"; !strings.Contains(err.Error(), want) {
			t.Errorf("ParseZone(%q): %q does not say %q", word, err, want)
		}
	}
}

func TestReadZoneFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := []struct {
		content string
		want    Zone
	}{
		{"none", None}, {"wan\n", WAN}, {"full\n", Full}, {"full", Full},
	}
	for i, c := range good {
		path := write("good"+string(rune('a'+i)), c.content, 0o644)
		if z, warning := ReadZoneFile(path); z != c.want || warning != "" {
			t.Errorf("%q: got %q, warning %q; want %q and no warning", c.content, z, warning, c.want)
		}
	}
	if z, warning := ReadZoneFile(filepath.Join(dir, "missing")); z != Default || warning != "" {
		t.Errorf("missing file: got %q, warning %q; want %q and no warning", z, warning, Default)
	}

	bad := map[string]string{
		"empty":    "",
		"blank":    "\n",
		"twice":    "wan\nwan\n",
		"extra":    "full\n\n",
		"spaces":   " full\n",
		"trailing": "full \n",
		"crlf":     "full\r\n",
		"unknown":  "lan\n",
		"case":     "Full\n",
		"comment":  "full # trusted\n",
		"long":     strings.Repeat("f", 100),
		"binary":   "\x00\xff",
	}
	for name, content := range bad {
		path := write(name, content, 0o644)
		z, warning := ReadZoneFile(path)
		if z != Strictest {
			t.Errorf("%s (%q): got zone %q, want %q", name, content, z, Strictest)
		}
		for _, want := range []string{path, "zone none", "echo wan > " + path} {
			if !strings.Contains(warning, want) {
				t.Errorf("%s: warning %q does not mention %q", name, warning, want)
			}
		}
	}

	if z, warning := ReadZoneFile(dir); z != Strictest || !strings.Contains(warning, "directory") {
		t.Errorf("a directory: got %q, warning %q", z, warning)
	}
	if os.Geteuid() != 0 { // root reads any file
		path := write("unreadable", "full\n", 0o000)
		if z, warning := ReadZoneFile(path); z != Strictest || !strings.Contains(warning, "permission denied") {
			t.Errorf("an unreadable file: got %q, warning %q", z, warning)
		}
	}
}
