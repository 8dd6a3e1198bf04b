package unit

import "github.com/coreos/go-systemd/v22/daemon"

// Notify tells systemd about the unit the calling process is the main
// process of (sd_notify(3)), such as READY=1 for a notify unit. Outside a
// unit, with no NOTIFY_SOCKET, it does nothing.
func Notify(state string) error {
	_, err := daemon.SdNotify(false, state)
	return err
}
