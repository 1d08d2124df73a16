package rpc

import (
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/mpcq/mpcq/internal/sdnotify/sdnotifytest"
)

// Under systemd, the health service tells it READY=1 when the server is
// registered, each change of status, and STOPPING=1 at shutdown; a
// SetReady that changes nothing sends nothing.
func TestHealthNotifiesSystemd(t *testing.T) {
	next := sdnotifytest.Listen(t)
	h := NewHealth("mpcq.v1.Party")
	gs := grpc.NewServer()
	RegisterOps(gs, h)
	steps := []struct {
		do   func()
		want string
	}{
		{func() {}, "READY=1\nSTATUS=mpcq.v1.Party: NOT_SERVING (waiting for the key ceremony and record alignment)"},
		{func() { h.SetReady(true) }, "STATUS=mpcq.v1.Party: SERVING"},
		{func() { h.SetReady(true); h.SetReady(false) }, "STATUS=mpcq.v1.Party: NOT_SERVING (waiting for the key ceremony and record alignment)"},
		{func() { h.Shutdown() }, "STOPPING=1\nSTATUS=mpcq.v1.Party: draining calls in flight"},
	}
	for i, s := range steps {
		s.do()
		if got := next(5 * time.Second); got != s.want {
			t.Fatalf("step %d: got %q, want %q", i, got, s.want)
		}
	}
	if got := next(100 * time.Millisecond); got != "" {
		t.Errorf("unexpected notification %q", got)
	}
}
