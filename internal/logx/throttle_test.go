package logx

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestThrottled(t *testing.T) {
	var out bytes.Buffer
	w := NewThrottled(zerolog.New(&out), time.Minute)
	now := time.Unix(1000, 0)
	w.now = func() time.Time { return now }
	// 200 lines in 20 s (every 100 ms), then one a minute later.
	for range 200 {
		_, _ = w.Write([]byte("W1130 publishCheckpoint: witness refused\n"))
		now = now.Add(100 * time.Millisecond)
	}
	now = now.Add(time.Minute)
	_, _ = w.Write([]byte("W1130 publishCheckpoint: witness refused\n"))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], `"lines_dropped":199`) {
		t.Fatalf("throttled output:\n%s", out.String())
	}
}
