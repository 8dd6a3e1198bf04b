// Package testmedium builds tiny bootable installation media for tests of
// the installer machine: an ISO whose El Torito EFI image holds a UEFI
// application of a few hundred bytes, generated here, that prints one line
// on the console and then powers the machine off, resets it, or hangs.
// Under OVMF and TCG one boots to its action in seconds, and it exercises
// the same paths as a real installer: a clean poweroff, a failure, a hang.
package testmedium

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"unicode/utf16"

	"virtdev/lib/testhost"
)

// Action is what the medium's program does once it has printed its line.
type Action int

const (
	// PowerOff calls ResetSystem(EfiResetShutdown): QEMU reports a
	// SHUTDOWN from the guest with reason guest-shutdown, as when an
	// installer succeeds.
	PowerOff Action = iota
	// Reset calls ResetSystem(EfiResetCold): under -no-reboot QEMU ends
	// with reason guest-reset, as when an installer fails.
	Reset
	// Hang loops forever, as an installer that is stuck.
	Hang
)

func (a Action) String() string {
	return [...]string{"poweroff", "reset", "hang"}[a]
}

// Message is the line the program prints on the console.
func (a Action) Message() string { return "virtdev test medium: " + a.String() }

// UEFI reset types (UEFI specification, EFI_RESET_TYPE).
const (
	efiResetCold     = 0
	efiResetShutdown = 2
)

// Program returns the UEFI application, a PE32+ image for x86-64 with one
// section of position-independent code:
//
//	push rbx; sub rsp, 32            ; align the stack, shadow space
//	mov rbx, rdx                     ; the system table
//	mov rcx, [rbx+64]                ; ConOut
//	lea rdx, [rip+message]
//	call [rcx+8]                     ; ConOut->OutputString(ConOut, message)
//	mov rax, [rbx+88]                ; RuntimeServices     (not for Hang)
//	mov ecx, type; xor edx, edx; xor r8d, r8d; xor r9d, r9d
//	call [rax+104]                   ; ResetSystem(type, 0, 0, NULL)
//	jmp $                            ; never returns
func Program(a Action) []byte {
	code := []byte{0x53, 0x48, 0x83, 0xEC, 0x20, 0x48, 0x89, 0xD3, 0x48, 0x8B, 0x4B, 0x40}
	lea := len(code)
	code = append(code, 0x48, 0x8D, 0x15, 0, 0, 0, 0, 0xFF, 0x51, 0x08)
	if a != Hang {
		resetType := byte(efiResetShutdown)
		if a == Reset {
			resetType = efiResetCold
		}
		code = append(code, 0x48, 0x8B, 0x43, 0x58, 0xB9, resetType, 0, 0, 0,
			0x31, 0xD2, 0x45, 0x31, 0xC0, 0x45, 0x31, 0xC9, 0xFF, 0x50, 0x68)
	}
	code = append(code, 0xEB, 0xFE)
	if len(code)%2 != 0 {
		code = append(code, 0x90) // UTF-16 wants an even address
	}
	binary.LittleEndian.PutUint32(code[lea+3:], uint32(len(code)-(lea+7)))
	for _, u := range utf16.Encode([]rune(a.Message() + "\r\n\x00")) {
		code = binary.LittleEndian.AppendUint16(code, u)
	}
	return peImage(code)
}

// peImage wraps code in the smallest PE32+ image UEFI loads: DOS stub,
// PE and optional headers, one executable .text section. It has no
// relocations and needs none: the code uses no absolute address.
func peImage(code []byte) []byte {
	const (
		fileAlign    = 0x200
		sectionAlign = 0x1000
		textRVA      = 0x1000
		peOffset     = 0x40
		optOffset    = peOffset + 4 + 20
		optSize      = 240 // PE32+ with 16 data directories
	)
	raw := (len(code) + fileAlign - 1) &^ (fileAlign - 1)
	img := make([]byte, fileAlign+raw)
	le := binary.LittleEndian
	copy(img, "MZ")
	le.PutUint32(img[0x3C:], peOffset)
	copy(img[peOffset:], "PE\x00\x00")
	coff := img[peOffset+4:]
	le.PutUint16(coff[0:], 0x8664)   // Machine: x86-64
	le.PutUint16(coff[2:], 1)        // NumberOfSections
	le.PutUint16(coff[16:], optSize) // SizeOfOptionalHeader
	le.PutUint16(coff[18:], 0x0022)  // executable, large address aware
	opt := img[optOffset:]
	le.PutUint16(opt[0:], 0x20B) // PE32+
	le.PutUint32(opt[4:], uint32(raw))
	le.PutUint32(opt[16:], textRVA) // AddressOfEntryPoint
	le.PutUint32(opt[20:], textRVA) // BaseOfCode
	le.PutUint64(opt[24:], 0x400000)
	le.PutUint32(opt[32:], sectionAlign)
	le.PutUint32(opt[36:], fileAlign)
	le.PutUint32(opt[56:], uint32(textRVA+(len(code)+sectionAlign-1)&^(sectionAlign-1))) // SizeOfImage
	le.PutUint32(opt[60:], fileAlign)                                                    // SizeOfHeaders
	le.PutUint16(opt[68:], 10)                                                           // Subsystem: EFI application
	for _, off := range []int{72, 80, 88, 96} {                                          // stack and heap reserve, commit
		le.PutUint64(opt[off:], 0x10000)
	}
	le.PutUint32(opt[108:], 16) // NumberOfRvaAndSizes
	section := img[optOffset+optSize:]
	copy(section, ".text")
	le.PutUint32(section[8:], uint32(len(code)))
	le.PutUint32(section[12:], textRVA)
	le.PutUint32(section[16:], uint32(raw))
	le.PutUint32(section[20:], fileAlign)
	le.PutUint32(section[36:], 0x60000020) // code, executable, readable
	copy(img[fileAlign:], code)
	return img
}

// Build writes an ISO that boots Program(a) under UEFI into dir and returns
// its path. It needs mkfs.fat, mtools and xorriso (see testhost).
func Build(t testing.TB, dir string, a Action) string {
	t.Helper()
	mkfs := testhost.Tool(t, "mkfs.fat", "dosfstools")
	mmd := testhost.Tool(t, "mmd", "mtools")
	mcopy := testhost.Tool(t, "mcopy", "mtools")
	xorriso := testhost.Tool(t, "xorriso", "xorriso")
	work := filepath.Join(dir, a.String())
	tree := filepath.Join(work, "tree")
	if err := os.MkdirAll(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	program := filepath.Join(work, "BOOTX64.EFI")
	if err := os.WriteFile(program, Program(a), 0o644); err != nil {
		t.Fatal(err)
	}
	esp := filepath.Join(tree, "efi.img")
	iso := filepath.Join(dir, a.String()+".iso")
	for _, args := range [][]string{
		{mkfs, "-C", "-n", "VIRTDEVTEST", esp, "1440"},
		{mmd, "-i", esp, "::/EFI", "::/EFI/BOOT"},
		{mcopy, "-i", esp, program, "::/EFI/BOOT/BOOTX64.EFI"},
		{xorriso, "-as", "mkisofs", "-quiet", "-V", "VIRTDEVTEST", "-e", "efi.img", "-no-emul-boot", "-o", iso, tree},
	} {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", args, err, out)
		}
	}
	return iso
}
