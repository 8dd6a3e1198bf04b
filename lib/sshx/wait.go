package sshx

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/ssh"

	"virtdev/lib/qemu"
)

// errTimedOut is the cause of a wait that ran out of time.
var errTimedOut = errors.New("timed out")

// WaitReady probes t until SSH lets its user in, within timeout, and
// meanwhile watches the machine (qemu.Watch): it fails within moments
// when the machine cannot come up, with what it saw: QEMU gone
// (*qemu.EndedError), a guest that cannot go on (*qemu.FailedError), a
// machine QEMU paused (*qemu.HaltedError). It returns a *NotReadyError
// when the time is up, and a *HostKeyError at once when the server
// presents another host key than the one pinned for t.
func WaitReady(ctx context.Context, t Target, units qemu.UnitWatcher, signer ssh.Signer, timeout time.Duration) error {
	if err := CheckRunning(ctx, units, t); err != nil {
		return err
	}
	hostKey, err := HostKeyCallback(t)
	if err != nil {
		return err
	}
	probeCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	probeCtx, stopTimer := context.WithTimeoutCause(probeCtx, timeout, fmt.Errorf("%w after %s", errTimedOut, timeout))
	defer stopTimer()
	go func() {
		if err := qemu.Watch(probeCtx, units, t.Machine, qemu.StatusInterval); probeCtx.Err() == nil {
			cancel(err)
		}
	}()
	probe := &Probe{
		Addr: t.Addr(), User: "dev", Signer: signer, HostKey: hostKey,
		Interval: Interval, Greeting: Greeting, MaxGreeting: MaxGreeting, Handshake: Handshake,
	}
	err = probe.Run(probeCtx)
	var nr *NotReadyError
	switch {
	case !errors.As(err, &nr):
		return err
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(nr.Cause, errTimedOut):
		return nr
	}
	return nr.Cause
}
