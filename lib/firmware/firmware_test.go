package firmware_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"virtdev/lib/firmware"
)

// images creates a code image and a variable-store template named after
// the pair, and returns them as a Pair.
func images(t *testing.T, dir, name string) firmware.Pair {
	t.Helper()
	p := firmware.Pair{Code: filepath.Join(dir, name+"_CODE.fd"), Vars: filepath.Join(dir, name+"_VARS.fd")}
	for _, f := range []string{p.Code, p.Vars} {
		if err := os.WriteFile(f, []byte("firmware"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// desc is a descriptor like the ones QEMU distributions ship; change
// modifies it before it is written.
func desc(t *testing.T, dir, file string, p firmware.Pair, change func(map[string]any)) string {
	t.Helper()
	d := map[string]any{
		"description":     "UEFI firmware for x86_64",
		"interface-types": []any{"uefi"},
		"mapping": map[string]any{
			"device":         "flash",
			"executable":     map[string]any{"filename": p.Code, "format": "raw"},
			"nvram-template": map[string]any{"filename": p.Vars, "format": "raw"},
		},
		"targets":  []any{map[string]any{"architecture": "x86_64", "machines": []any{"pc-i440fx-*", "pc-q35-*"}}},
		"features": []any{"acpi-s3", "verbose-dynamic"},
	}
	if change != nil {
		change(d)
	}
	data, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, file, string(data))
}

func writeFile(t *testing.T, dir, file, content string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, file)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func features(f ...any) func(map[string]any) {
	return func(d map[string]any) { d["features"] = f }
}

func mapping(key, field, value string) func(map[string]any) {
	return func(d map[string]any) {
		d["mapping"].(map[string]any)[key].(map[string]any)[field] = value
	}
}

func discover(t *testing.T, env firmware.Environment) firmware.Pair {
	t.Helper()
	p, err := firmware.Discover(env)
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	return p
}

func samePair(got, want firmware.Pair) bool { return got.Code == want.Code && got.Vars == want.Vars }

func TestDescriptorSelection(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "firmware")
	plain := images(t, root, "PLAIN")
	other := images(t, root, "OTHER")
	// Sorted by name, every descriptor before 60-plain is unusable for
	// virtdev, each for its own reason.
	desc(t, dir, "10-secure-enrolled.json", other, features("requires-smm", "secure-boot", "enrolled-keys"))
	desc(t, dir, "11-smm.json", other, features("requires-smm"))
	desc(t, dir, "12-secure.json", other, features("secure-boot"))
	desc(t, dir, "13-sev-es.json", other, features("amd-sev-es"))
	desc(t, dir, "14-tdx.json", other, features("intel-tdx"))
	desc(t, dir, "20-bios.json", other, func(d map[string]any) { d["interface-types"] = []any{"bios"} })
	desc(t, dir, "21-memory.json", other, func(d map[string]any) { d["mapping"].(map[string]any)["device"] = "memory" })
	desc(t, dir, "22-qcow2-code.json", other, mapping("executable", "format", "qcow2"))
	desc(t, dir, "23-qcow2-vars.json", other, mapping("nvram-template", "format", "qcow2"))
	desc(t, dir, "24-aarch64.json", other, func(d map[string]any) {
		d["targets"] = []any{map[string]any{"architecture": "aarch64", "machines": []any{"virt-*"}}}
	})
	desc(t, dir, "25-i440fx-only.json", other, func(d map[string]any) {
		d["targets"] = []any{map[string]any{"architecture": "x86_64", "machines": []any{"pc-i440fx-*"}}}
	})
	desc(t, dir, "30-missing-code.json", firmware.Pair{Code: filepath.Join(root, "nope.fd"), Vars: other.Vars}, nil)
	desc(t, dir, "31-missing-vars.json", firmware.Pair{Code: other.Code, Vars: filepath.Join(root, "nope.fd")}, nil)
	writeFile(t, dir, "40-broken.json", "{ not json")
	writeFile(t, dir, "41-empty.json", "")
	desc(t, dir, "60-plain.json", plain, features("acpi-s3", "amd-sev", "verbose-dynamic"))
	desc(t, dir, "70-later.json", other, nil)
	desc(t, dir, "05-not-a-descriptor.txt", other, nil)

	got := discover(t, firmware.Environment{DescriptorDir: []string{filepath.Join(root, "missing"), dir}})
	if !samePair(got, plain) {
		t.Errorf("Discover = %+v, want %+v", got, plain)
	}
	if got.Source != filepath.Join(dir, "60-plain.json") {
		t.Errorf("Source = %q, want the descriptor's path", got.Source)
	}
}

func TestMachineNames(t *testing.T) {
	root := t.TempDir()
	p := images(t, root, "Q35")
	for _, machines := range [][]any{{"q35"}, {"pc-q35-*"}, {"pc-q35-7.2"}} {
		dir := filepath.Join(t.TempDir(), "firmware")
		desc(t, dir, "60.json", p, func(d map[string]any) {
			d["targets"] = []any{map[string]any{"architecture": "x86_64", "machines": machines}}
		})
		if got := discover(t, firmware.Environment{DescriptorDir: []string{dir}}); !samePair(got, p) {
			t.Errorf("machines %v: Discover = %+v", machines, got)
		}
	}
}

// A later directory replaces a file of the same name, and the replaced
// file's pair is no candidate any more, even when the new one is unusable.
func TestLaterDirectoryOverrides(t *testing.T) {
	root := t.TempDir()
	system, etc, user := filepath.Join(root, "share"), filepath.Join(root, "etc"), filepath.Join(root, "user")
	a, b, c := images(t, root, "A"), images(t, root, "B"), images(t, root, "C")
	dirs := []string{system, etc, user}

	desc(t, system, "60-edk2.json", a, nil)
	desc(t, etc, "60-edk2.json", b, nil)
	if got := discover(t, firmware.Environment{DescriptorDir: dirs}); !samePair(got, b) {
		t.Errorf("/etc override: Discover = %+v, want %+v", got, b)
	}

	desc(t, user, "60-edk2.json", c, nil)
	if got := discover(t, firmware.Environment{DescriptorDir: dirs}); !samePair(got, c) {
		t.Errorf("user override: Discover = %+v, want %+v", got, c)
	}

	// An empty file masks the descriptor, as QEMU's specification allows;
	// a lower-numbered one elsewhere takes over.
	writeFile(t, user, "60-edk2.json", "")
	desc(t, system, "70-other.json", a, nil)
	if got := discover(t, firmware.Environment{DescriptorDir: dirs}); !samePair(got, a) {
		t.Errorf("masked: Discover = %+v, want %+v", got, a)
	}
}

// Across directories the file names, not the directories, rank candidates.
func TestNamesRankAcrossDirectories(t *testing.T) {
	root := t.TempDir()
	first, second := filepath.Join(root, "first"), filepath.Join(root, "second")
	a, b := images(t, root, "A"), images(t, root, "B")
	desc(t, first, "70-b.json", b, nil)
	desc(t, second, "30-a.json", a, nil)
	if got := discover(t, firmware.Environment{DescriptorDir: []string{first, second}}); !samePair(got, a) {
		t.Errorf("Discover = %+v, want %+v", got, a)
	}
}

func TestVariables(t *testing.T) {
	root := t.TempDir()
	set := images(t, root, "SET")
	desc(t, filepath.Join(root, "firmware"), "60.json", images(t, root, "DESC"), nil)
	dirs := []string{filepath.Join(root, "firmware")}

	got := discover(t, firmware.Environment{Code: set.Code, Vars: set.Vars, DescriptorDir: dirs})
	if !samePair(got, set) || got.Source != "OVMF_CODE and OVMF_VARS" {
		t.Errorf("both set: Discover = %+v, want %+v from the variables", got, set)
	}

	missing := filepath.Join(root, "missing.fd")
	for _, tc := range []struct {
		name       string
		code, vars string
		want       []string
	}{
		{"only code", set.Code, "", []string{"OVMF_CODE=", "OVMF_VARS=\"\"", "set both"}},
		{"only vars", "", set.Vars, []string{"OVMF_CODE=\"\"", "set both"}},
		{"code missing", missing, set.Vars, []string{"OVMF_CODE=" + missing, "no such file"}},
		{"vars missing", set.Code, missing, []string{"OVMF_VARS=" + missing, "no such file"}},
		{"code is a directory", root, set.Vars, []string{"OVMF_CODE=" + root}},
	} {
		_, err := firmware.Discover(firmware.Environment{Code: tc.code, Vars: tc.vars, DescriptorDir: dirs})
		var e *firmware.Error
		if !errors.As(err, &e) {
			t.Errorf("%s: Discover = %v, want a firmware.Error", tc.name, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: message lacks %q:\n%s", tc.name, w, err)
			}
		}
	}
}

func TestFallbacks(t *testing.T) {
	root := t.TempDir()
	good := images(t, root, "GOOD")
	good.Source = "good distribution"
	codeOnly := images(t, root, "HALF")
	os.Remove(codeOnly.Vars)
	fallbacks := []firmware.Pair{
		{Code: filepath.Join(root, "absent_CODE.fd"), Vars: filepath.Join(root, "absent_VARS.fd")},
		codeOnly,
		good,
	}
	emptyDir := filepath.Join(root, "firmware")
	if err := os.Mkdir(emptyDir, 0o755); err != nil {
		t.Fatal(err)
	}
	got := discover(t, firmware.Environment{DescriptorDir: []string{emptyDir}, Fallbacks: fallbacks})
	if got != good {
		t.Errorf("Discover = %+v, want %+v", got, good)
	}

	// Descriptors win over the fallbacks.
	described := images(t, root, "DESC")
	desc(t, emptyDir, "60.json", described, nil)
	if got := discover(t, firmware.Environment{DescriptorDir: []string{emptyDir}, Fallbacks: fallbacks}); !samePair(got, described) {
		t.Errorf("Discover = %+v, want the described %+v", got, described)
	}
}

func TestNothingFound(t *testing.T) {
	root := t.TempDir()
	dirs := []string{filepath.Join(root, "a"), filepath.Join(root, "b")}
	fallbacks := []firmware.Pair{{Code: filepath.Join(root, "x_CODE.fd"), Vars: filepath.Join(root, "x_VARS.fd")}}
	_, err := firmware.Discover(firmware.Environment{DescriptorDir: dirs, Fallbacks: fallbacks})
	var e *firmware.Error
	if !errors.As(err, &e) {
		t.Fatalf("Discover = %v, want a firmware.Error", err)
	}
	for _, want := range []string{dirs[0], dirs[1], fallbacks[0].Code, "apt install ovmf", "OVMF_CODE and OVMF_VARS"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q:\n%s", want, err)
		}
	}
}

func TestHostEnvironment(t *testing.T) {
	vars := map[string]string{"HOME": "/home/u", "OVMF_CODE": "/c.fd", "OVMF_VARS": "/v.fd"}
	getenv := func(name string) string { return vars[name] }
	env := firmware.HostEnvironment(getenv)
	if env.Code != "/c.fd" || env.Vars != "/v.fd" || env.ConfigHome != "/home/u/.config" {
		t.Errorf("HostEnvironment = %+v", env)
	}
	dirs := env.DescriptorDir
	share := slices.Index(dirs, "/usr/share/qemu/firmware")
	etc := slices.Index(dirs, "/etc/qemu/firmware")
	user := slices.Index(dirs, "/home/u/.config/qemu/firmware")
	if share < 0 || etc <= share || user != len(dirs)-1 {
		t.Errorf("DescriptorDir = %q: want share, then /etc, then the user's last", dirs)
	}
	if len(env.Fallbacks) == 0 {
		t.Error("no fallbacks")
	}

	vars["XDG_CONFIG_HOME"] = "/xdg"
	if env := firmware.HostEnvironment(getenv); env.DescriptorDir[len(env.DescriptorDir)-1] != "/xdg/qemu/firmware" {
		t.Errorf("with XDG_CONFIG_HOME, DescriptorDir = %q", env.DescriptorDir)
	}
}

// This host's own descriptors (Debian's ovmf and qemu-system-data) parse
// and lead to the plain 4 MiB build.
func TestThisHost(t *testing.T) {
	if _, err := os.Stat("/usr/share/qemu/firmware/60-edk2-x86_64.json"); err != nil {
		t.Skip("no Debian OVMF descriptors on this host")
	}
	vars := map[string]string{"HOME": t.TempDir()}
	p, err := firmware.Discover(firmware.HostEnvironment(func(name string) string { return vars[name] }))
	if err != nil {
		t.Fatal(err)
	}
	if p.Code != "/usr/share/OVMF/OVMF_CODE_4M.fd" || p.Vars != "/usr/share/OVMF/OVMF_VARS_4M.fd" {
		t.Errorf("Discover = %+v", p)
	}
}
