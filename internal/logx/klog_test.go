package logx

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestKlogSinkThrottlesWarnings(t *testing.T) {
	var out bytes.Buffer
	k := newKlogSink(zerolog.New(&out), time.Minute)
	now := time.Unix(1000, 0)
	k.now = func() time.Time { return now }
	// 200 warnings in 20 s (every 100 ms), then one a minute later.
	for range 200 {
		k.write([]byte("W1130 02:13:06.123456   12345 log.go:77] publishCheckpoint: witness refused\n"))
		now = now.Add(100 * time.Millisecond)
	}
	now = now.Add(time.Minute)
	k.write([]byte("W1130 02:13:06.123456   12345 log.go:77] publishCheckpoint: witness refused\n"))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], `"lines_dropped":199`) {
		t.Fatalf("throttled output:\n%s", out.String())
	}
}

func TestKlogSinkLines(t *testing.T) {
	for _, tc := range []struct {
		line, level, source, msg string
	}{
		{"I1130 02:13:06.123456   12345 integrate.go:12] integrated 3 entries", "info", "integrate.go:12", "integrated 3 entries"},
		{"W1130 02:13:06.123456       1 log.go:77] witness refused", "warn", "log.go:77", "witness refused"},
		{"E1130 02:13:06.123456       1 a.go:1] failed: x] y", "error", "a.go:1", "failed: x] y"},
		{"plain text", "info", "", "plain text"},
	} {
		t.Run(tc.level+" "+tc.msg, func(t *testing.T) {
			var out bytes.Buffer
			newKlogSink(zerolog.New(&out), time.Minute).write([]byte(tc.line + "\n"))
			var got map[string]any
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatalf("not JSON: %q: %v", out.String(), err)
			}
			if got["level"] != tc.level || got["message"] != tc.msg || (tc.source != "" && got["source"] != tc.source) {
				t.Errorf("%q → %v", tc.line, got)
			}
		})
	}
}
