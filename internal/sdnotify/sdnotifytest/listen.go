// Package sdnotifytest plays systemd's side of the notify protocol in
// tests: a datagram socket that $NOTIFY_SOCKET names.
package sdnotifytest

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Listen binds a datagram socket as systemd does and points $NOTIFY_SOCKET
// at it for the test (and for the processes the test starts). It returns
// a function that reads the next message, or "" after wait with none.
func Listen(t testing.TB) func(wait time.Duration) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sd") // short: socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return func(wait time.Duration) string {
		buf := make([]byte, 4096)
		if err := conn.SetReadDeadline(time.Now().Add(wait)); err != nil {
			t.Fatal(err)
		}
		n, err := conn.Read(buf)
		if err != nil {
			return ""
		}
		return string(buf[:n])
	}
}
