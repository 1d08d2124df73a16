package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/mpcq/mpcq/internal/sdnotify/sdnotifytest"
)

// The daemons speak systemd's notify protocol (the units are Type=notify):
// each says READY=1 once it accepts connections, then SERVING once the
// ceremony and alignment are done, and STOPPING=1 when it drains.
func TestSystemdNotify(t *testing.T) {
	next := sdnotifytest.Listen(t) // the daemons inherit $NOTIFY_SOCKET
	_, cl := startCluster(t, 2000)
	count := func(want map[string]int, wait time.Duration) map[string]int {
		got := map[string]int{}
		deadline := time.Now().Add(wait)
		for time.Now().Before(deadline) {
			done := true
			for k, n := range want {
				if got[k] < n {
					done = false
				}
			}
			if done {
				return got
			}
			m := next(time.Until(deadline))
			for _, line := range strings.Split(m, "\n") {
				for k := range want {
					if strings.HasPrefix(line, "READY=1") && k == "READY=1" ||
						strings.HasPrefix(line, "STOPPING=1") && k == "STOPPING=1" ||
						strings.HasPrefix(line, "STATUS=") && strings.HasSuffix(line, k) {
						got[k]++
					}
				}
			}
		}
		return got
	}
	// The cluster is ready (startCluster waited): every daemon has said so.
	want := map[string]int{"READY=1": 4, "mpcq.v1.Party: SERVING": 3, "mpcq.v1.Coordinator: SERVING": 1}
	if got := count(want, 30*time.Second); !mapAtLeast(got, want) {
		t.Fatalf("notifications while starting: %v, want at least %v", got, want)
	}
	cl.Stop()
	want = map[string]int{"STOPPING=1": 4}
	if got := count(want, 30*time.Second); !mapAtLeast(got, want) {
		t.Fatalf("notifications while stopping: %v, want %v", got, want)
	}
}

func mapAtLeast(got, want map[string]int) bool {
	for k, n := range want {
		if got[k] < n {
			return false
		}
	}
	return true
}
