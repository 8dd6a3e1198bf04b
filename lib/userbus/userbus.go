// Package userbus reaches the calling user's systemd manager the way the
// programs that only look at machines (status, list, port) need it: one
// question, ListUnitsByPatterns, spoken over the user bus by hand
// (StatesQuestion), with where the bus is, and what to do when it cannot
// be reached (BusError, the shared exit code). Package unit, which starts
// and watches units over godbus, finds the bus and explains its failures
// here too.
//
// It stays small on purpose: a program that imports it and no more starts
// without the initialisation of godbus, go-systemd, package net and the
// crypto they bring, which is a good part of such a program's run.
package userbus

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"virtdev/lib/exitcode"
)

// ConnectDeadline bounds reaching the bus and hearing from it: a bus that
// accepts but never answers must not leave a program killable only by
// SIGKILL.
const ConnectDeadline = 5 * time.Second

// BusError is the failure to reach the user's systemd manager.
type BusError struct {
	Address string // the bus address tried, if any
	Err     error
}

func (e *BusError) Error() string {
	where := "no user bus address: DBUS_SESSION_BUS_ADDRESS is unset and $XDG_RUNTIME_DIR/bus does not exist"
	if e.Address != "" {
		where = fmt.Sprintf("user bus %s", e.Address)
	}
	return fmt.Sprintf("cannot reach the systemd user manager (%s): %v\n"+
		"virtdev runs machines as systemd user units, so it needs the user bus of a logged-in user session\n"+
		"(XDG_RUNTIME_DIR=/run/user/%d, DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/%d/bus).\n"+
		"Check with: systemctl --user status\n"+
		"Run it from a login session, or keep your user manager running without one: loginctl enable-linger %s",
		where, e.Err, os.Getuid(), os.Getuid(), userName())
}

func (e *BusError) Unwrap() error { return e.Err }

// ExitCode makes the failure the shared condition it is in every program.
func (e *BusError) ExitCode() int { return exitcode.NoUserManager.N }

func userName() string {
	for _, v := range []string{"USER", "LOGNAME"} {
		if name := os.Getenv(v); name != "" {
			return name
		}
	}
	return strconv.Itoa(os.Getuid())
}

// Address finds the user bus the way sd-bus does, and never autolaunches
// a private dbus-daemon (as godbus would), which has no systemd behind it.
func Address(getenv func(string) string) (string, error) {
	if a := getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" && a != "autolaunch:" {
		return a, nil
	}
	if dir := getenv("XDG_RUNTIME_DIR"); dir != "" {
		path := filepath.Join(dir, "bus")
		if info, err := os.Stat(path); err == nil && info.Mode()&os.ModeSocket != 0 {
			return "unix:path=" + path, nil
		}
	}
	return "", errors.New("no bus address")
}

// Running reports whether a unit in the given ActiveState has a live
// process or is on its way to or from having one: another start must be
// refused, and a port file of its machine is no leftover.
func Running(activeState string) bool {
	switch activeState {
	case "active", "activating", "deactivating", "reloading", "refreshing":
		return true
	}
	return false
}
