package main

import (
	"testing"

	"virtdev/tools/internal/clitest"
)

func TestMain(m *testing.M) {
	clitest.Main(m, map[string]func(){"virtdev-net": main})
}

func TestScripts(t *testing.T) { clitest.Run(t, "testdata") }
