package sdnotify

import (
	"testing"
	"time"

	"github.com/mpcq/mpcq/internal/sdnotify/sdnotifytest"
)

func TestMessages(t *testing.T) {
	next := sdnotifytest.Listen(t)
	for _, c := range []struct {
		send func() (bool, error)
		want string
	}{
		{func() (bool, error) { return Ready("listening\nnot ready") }, "READY=1\nSTATUS=listening not ready"},
		{func() (bool, error) { return Status("serving") }, "STATUS=serving"},
		{func() (bool, error) { return Stopping("draining") }, "STOPPING=1\nSTATUS=draining"},
	} {
		sent, err := c.send()
		if err != nil || !sent {
			t.Fatalf("sent %v, err %v", sent, err)
		}
		if got := next(5 * time.Second); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
	if _, err := Send("A=1\nB=2"); err == nil {
		t.Error("a line with a newline was sent")
	}
}

func TestNoSocket(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if sent, err := Ready("x"); sent || err != nil {
		t.Errorf("without a socket: sent %v, err %v", sent, err)
	}
}
