package main

import (
	"context"
	"testing"

	"virtdev/lib/cli"
	"virtdev/lib/layout"
	"virtdev/tools/internal/clitest"
)

// unitRunning is the same program on a host whose systemd reports every
// unit running, to reach what follows that check without a VM.
var unitRunning = func() cli.Command {
	c := command
	c.Name = "virtdev-transfer-unit-running"
	c.Run = func(env *cli.Env, args []string) error {
		checkRunning = func(context.Context, layout.Machine) error { return nil }
		return run(env, args)
	}
	return c
}()

func TestMain(m *testing.M) { clitest.Main(m, command, unitRunning) }

func TestScripts(t *testing.T) { clitest.Run(t, "testdata", command) }
