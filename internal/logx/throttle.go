package logx

import (
	"bytes"
	"io"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Throttled is an io.Writer for a library's own log lines (tessera logs
// through klog, a warning every checkpoint interval while a witness
// refuses): it passes each line to log as a warning, at most one per
// every, and counts the lines it drops in the next one it passes.
type Throttled struct {
	log   zerolog.Logger
	every time.Duration
	now   func() time.Time

	mu      sync.Mutex
	last    time.Time
	dropped int
}

// NewThrottled returns a Throttled writer logging to log.
func NewThrottled(log zerolog.Logger, every time.Duration) *Throttled {
	return &Throttled{log: log, every: every, now: time.Now}
}

var _ io.Writer = (*Throttled)(nil)

// Write implements io.Writer; p holds one or more lines.
func (t *Throttled) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, line := range bytes.Split(bytes.TrimRight(p, "\n"), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		now := t.now()
		if !t.last.IsZero() && now.Sub(t.last) < t.every {
			t.dropped++
			continue
		}
		t.log.Warn().Bytes("line", line).Int("lines_dropped", t.dropped).Msg("library log")
		t.last, t.dropped = now, 0
	}
	return len(p), nil
}
