package main

import (
	"context"
	"testing"

	"virtdev/lib/sshx"
	"virtdev/tools/internal/clitest"
)

func TestMain(m *testing.M) {
	clitest.Main(m, map[string]func(){
		"virtdev-ssh": main,
		// The same program on a host whose systemd reports every unit
		// running, to reach what follows that check without a VM.
		"virtdev-ssh-unit-running": func() {
			checkRunning = func(context.Context, sshx.Target) error { return nil }
			main()
		},
	})
}

func TestScripts(t *testing.T) { clitest.Run(t, "testdata") }
