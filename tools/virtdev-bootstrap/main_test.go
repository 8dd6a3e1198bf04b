package main

import (
	"os"
	"strings"
	"testing"

	"virtdev/lib/guest"
	"virtdev/tools/internal/clitest"
)

func TestMain(m *testing.M) { clitest.Main(m, command) }

func TestScripts(t *testing.T) { clitest.Run(t, "testdata", command) }

// The man page's PACKAGES table is the toolset of the code, row by row, as
// --help prints it.
func TestManPageListsTheToolset(t *testing.T) {
	data, err := os.ReadFile("../../man/virtdev-bootstrap.1.scd")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(data), "\n# PACKAGES\n")
	section, _, _ = strings.Cut(section, "\n# ")
	var want strings.Builder
	for _, tool := range guest.Toolset {
		packages := strings.Join(tool.Packages, " ")
		if packages == "" {
			packages = "-"
		}
		want.WriteString("|  " + tool.Seed + "\n:  " + packages + "\n")
		if tool.Note != "" {
			want.WriteString("   (" + tool.Note + ")\n")
		}
	}
	if !strings.Contains(section, want.String()) {
		t.Errorf("the PACKAGES section of virtdev-bootstrap(1) is not the toolset; its table should read:\n%s", want.String())
	}
}
