// Package sdnotify tells systemd how a daemon is doing, for units of
// Type=notify: READY=1 once the daemon accepts connections, STATUS= lines
// that `systemctl status` shows, and STOPPING=1 when it drains. Without
// $NOTIFY_SOCKET (not started by systemd) every call does nothing.
//
// It is a thin layer over github.com/coreos/go-systemd/v22/daemon, which
// speaks the protocol (a datagram on the socket systemd names).
package sdnotify

import (
	"fmt"
	"strings"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Send sends the state lines (e.g. "READY=1", "STATUS=serving") as one
// message. It reports whether systemd was told; an error means the socket
// was named but could not be written.
func Send(lines ...string) (bool, error) {
	for _, l := range lines {
		if strings.ContainsAny(l, "\n") {
			return false, fmt.Errorf("sdnotify: state line %q holds a newline", l)
		}
	}
	return daemon.SdNotify(false, strings.Join(lines, "\n"))
}

// Ready says the daemon accepts connections, with a status text.
func Ready(status string) (bool, error) {
	return Send(daemon.SdNotifyReady, "STATUS="+oneLine(status))
}

// Status updates the status text.
func Status(status string) (bool, error) { return Send("STATUS=" + oneLine(status)) }

// Stopping says the daemon is draining, with a status text.
func Stopping(status string) (bool, error) {
	return Send(daemon.SdNotifyStopping, "STATUS="+oneLine(status))
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }
