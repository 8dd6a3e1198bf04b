package testmedium

import (
	"bytes"
	"debug/pe"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"
)

// The program is a PE32+ EFI application for x86-64 whose entry point is
// the start of its code and whose message is in it.
func TestProgramIsAnEFIApplication(t *testing.T) {
	for _, a := range []Action{PowerOff, Reset, Hang} {
		f, err := pe.NewFile(bytes.NewReader(Program(a)))
		if err != nil {
			t.Fatalf("%s: %v", a, err)
		}
		opt, ok := f.OptionalHeader.(*pe.OptionalHeader64)
		if !ok || f.Machine != pe.IMAGE_FILE_MACHINE_AMD64 || opt.Subsystem != pe.IMAGE_SUBSYSTEM_EFI_APPLICATION {
			t.Fatalf("%s: machine %#x, header %T, not an x86-64 EFI application", a, f.Machine, f.OptionalHeader)
		}
		text := f.Section(".text")
		if text == nil || opt.AddressOfEntryPoint != text.VirtualAddress || opt.SizeOfImage < text.VirtualAddress+text.VirtualSize {
			t.Fatalf("%s: entry %#x, sections %v, image size %#x", a, opt.AddressOfEntryPoint, f.Sections, opt.SizeOfImage)
		}
		code, err := text.Data()
		if err != nil {
			t.Fatal(err)
		}
		var message []byte
		for _, u := range utf16.Encode([]rune(a.Message())) {
			message = binary.LittleEndian.AppendUint16(message, u)
		}
		if !bytes.Contains(code, message) {
			t.Errorf("%s: the message is not in the code", a)
		}
		// ResetSystem is called through the runtime services table, except
		// by the program that hangs.
		if reset := bytes.Contains(code, []byte{0xFF, 0x50, 0x68}); reset == (a == Hang) {
			t.Errorf("%s: calls ResetSystem: %v", a, reset)
		}
	}
}

func TestBuild(t *testing.T) {
	dir := t.TempDir()
	iso := Build(t, dir, PowerOff)
	// The ISO carries an El Torito boot catalog with an EFI entry for the
	// FAT image that holds the program.
	out, err := exec.Command("xorriso", "-indev", iso, "-report_el_torito", "plain").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(string(out), "UEFI") {
		t.Errorf("no UEFI boot entry:\n%s", out)
	}
	img := filepath.Join(dir, "efi.img")
	if out, err := exec.Command("xorriso", "-osirrox", "on", "-indev", iso, "-extract", "/efi.img", img).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got := filepath.Join(dir, "BOOTX64.EFI")
	cmd := exec.Command("mcopy", "-i", img, "::/EFI/BOOT/BOOTX64.EFI", got)
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if data, err := os.ReadFile(got); err != nil || !bytes.Equal(data, Program(PowerOff)) {
		t.Errorf("the ISO's boot program differs from Program(PowerOff) (%v)", err)
	}
}
