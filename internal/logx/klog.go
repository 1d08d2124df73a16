package logx

import (
	"bytes"
	"sync"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/rs/zerolog"
	"k8s.io/klog/v2"
)

// RouteKlog sends everything logged through klog (tessera, the ledger's
// library, logs through it: the "I1130 12:00:00.000000 ..." lines) into
// log as JSON, so that a daemon's output is JSON only. klog's severity
// becomes the level (I info, W warn, E and F error); the message keeps
// klog's source location in "source"; each event has "library":"klog".
// Warnings are throttled to one per warnEvery (tessera repeats one every
// checkpoint interval while a witness refuses to cosign; the ledger logs
// refusals itself), and the next one passed counts those dropped.
//
// klog's configuration is process-wide: only a daemon's main calls this.
func RouteKlog(log zerolog.Logger, warnEvery time.Duration) {
	k := newKlogSink(log.With().Str("library", "klog").Logger(), warnEvery)
	// Structured calls (klog.InfoS, ErrorS) reach the logr logger as JSON
	// objects; formatted ones (klog.Infof, Warningf) reach the buffer
	// writer with their klog header, which holds the severity.
	structured := funcr.NewJSON(func(obj string) {
		k.log.Info().RawJSON("fields", []byte(obj)).Msg("library log")
	}, funcr.Options{})
	klog.LogToStderr(false)
	klog.SetLoggerWithOptions(structured, klog.WriteKlogBuffer(func(b []byte) { k.write(b) }))
}

// klogSink turns klog's formatted lines into zerolog events.
type klogSink struct {
	log   zerolog.Logger
	every time.Duration
	now   func() time.Time

	mu      sync.Mutex
	last    time.Time
	dropped int
}

func newKlogSink(log zerolog.Logger, every time.Duration) *klogSink {
	return &klogSink{log: log, every: every, now: time.Now}
}

// write logs each klog line of b: "Lmmdd hh:mm:ss.uuuuuu threadid file:line] msg".
func (k *klogSink) write(b []byte) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, line := range bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		level, source, msg := parseKlogLine(line)
		ev := k.log.WithLevel(level)
		if level == zerolog.WarnLevel {
			now := k.now()
			if !k.last.IsZero() && now.Sub(k.last) < k.every {
				k.dropped++
				continue
			}
			ev = ev.Int("lines_dropped", k.dropped)
			k.last, k.dropped = now, 0
		}
		if source != "" {
			ev = ev.Str("source", source)
		}
		ev.Msg(msg)
	}
}

// parseKlogLine splits a klog line into its level, source location and
// message; a line without klog's header is an info message as it is.
func parseKlogLine(line []byte) (zerolog.Level, string, string) {
	end := bytes.Index(line, []byte("] "))
	if len(line) < 2 || end < 0 || line[1] < '0' || line[1] > '9' {
		return zerolog.InfoLevel, "", string(line)
	}
	level := zerolog.InfoLevel
	switch line[0] {
	case 'W':
		level = zerolog.WarnLevel
	case 'E', 'F':
		level = zerolog.ErrorLevel
	case 'I':
	default:
		return zerolog.InfoLevel, "", string(line)
	}
	header := bytes.Fields(line[:end])
	source := ""
	if len(header) > 0 {
		source = string(header[len(header)-1])
	}
	return level, source, string(line[end+2:])
}
