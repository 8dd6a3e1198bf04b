package main

import (
	"testing"

	"virtdev/tools/internal/clitest"
)

func TestMain(m *testing.M) { clitest.Main(m, command) }

func TestScripts(t *testing.T) { clitest.Run(t, "testdata", command) }
