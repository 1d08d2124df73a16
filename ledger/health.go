package ledger

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	fnote "github.com/transparency-dev/formats/note"
)

// Backoff bounds for cosigner refusals: after the n-th refusal in a row
// the log waits Backoff(n) before asking any cosigner again.
const (
	MinRefusalBackoff = 100 * time.Millisecond
	MaxRefusalBackoff = 30 * time.Second
	// RefusalSummaryEvery is how often a refusal that persists is logged again.
	RefusalSummaryEvery = time.Minute
)

// Backoff is the wait after the n-th consecutive refusal (n ≥ 1): 100 ms,
// doubling, capped at 30 s. Pure.
func Backoff(n int) time.Duration {
	if n <= 1 {
		return MinRefusalBackoff
	}
	d := MinRefusalBackoff
	for i := 1; i < n; i++ {
		d *= 2
		if d >= MaxRefusalBackoff {
			return MaxRefusalBackoff
		}
	}
	return d
}

// Refusal describes a cosigner that refused the last checkpoint it was asked for.
type Refusal struct {
	// Cosigner is the cosigner's name (Cosigner.Name()).
	Cosigner string
	// Since is the first refusal of the current run, Last the latest.
	Since, Last time.Time
	// Count is the number of refusals in a row.
	Count int
	// Size is the checkpoint size last refused.
	Size uint64
	// Err is the last refusal.
	Err error
	// NextTry is when the log will ask again.
	NextTry time.Time
}

// Health is the publication state of the log.
type Health struct {
	// Checkpoint is the latest published checkpoint (zero Size and nil Raw
	// before the first).
	Checkpoint Checkpoint
	// CosignedAt is the oldest cosignature timestamp on it: when the last
	// party cosigned it.
	CosignedAt time.Time
	// Pending counts entries sequenced but not yet in a published checkpoint.
	Pending uint64
	// Refusing lists the cosigners refusing now, by name.
	Refusing []Refusal
	// Err is set when the checkpoint or the tree size could not be read.
	Err error
}

// Healthy reports whether every cosigner cosigns and the log state is readable.
func (h Health) Healthy() bool { return h.Err == nil && len(h.Refusing) == 0 }

// Health reports the log's publication state: the last published
// checkpoint, how many entries wait for publication and which cosigners
// refuse and why.
func (l *Log) Health(ctx context.Context) Health {
	var h Health
	h.Refusing = l.transport.refusing()
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		h.Err = err
		return h
	}
	h.Checkpoint = cp
	for _, s := range cp.Note.Sigs {
		if ts, err := fnote.CoSigV1Timestamp(s); err == nil {
			if h.CosignedAt.IsZero() || ts.Before(h.CosignedAt) {
				h.CosignedAt = ts
			}
		}
	}
	n, err := l.reader.IntegratedSize(ctx)
	if err != nil {
		h.Err = fmt.Errorf("reading the tree size of %s: %w", l.cfg.Dir, err)
		return h
	}
	if n > cp.Size {
		h.Pending = n - cp.Size
	}
	return h
}

// SequencedSize returns the number of entries sequenced so far, published
// or not.
func (l *Log) SequencedSize(ctx context.Context) (uint64, error) {
	n, err := l.reader.IntegratedSize(ctx)
	if err != nil {
		return 0, fmt.Errorf("reading the tree size of %s: %w", l.cfg.Dir, err)
	}
	return n, nil
}

// refusals tracks cosigner refusals: it decides when the next cosigning
// round may call the cosigners, and logs a warning when a cosigner starts
// or stops refusing (or refuses differently), plus a summary while it
// keeps refusing, instead of a warning per round.
type refusals struct {
	log zerolog.Logger
	now func() time.Time

	mu      sync.Mutex
	by      map[string]*Refusal
	summary map[string]time.Time // last log line per cosigner
}

func newRefusals(log zerolog.Logger, now func() time.Time) *refusals {
	return &refusals{log: log, now: now, by: map[string]*Refusal{}, summary: map[string]time.Time{}}
}

// wait returns how long the next round must still wait (0: go ahead):
// the latest NextTry of any refusing cosigner. A round fails unless every
// cosigner cosigns, so calling the others early only adds load.
func (r *refusals) wait() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	var next time.Time
	for _, f := range r.by {
		if f.NextTry.After(next) {
			next = f.NextTry
		}
	}
	return max(next.Sub(r.now()), 0)
}

// nudge lets the next round go ahead now: a new entry is waiting, and an
// analyst should not wait a whole backoff for a party that came back. The
// refusal counts stay, so a further refusal keeps backing off as before.
func (r *refusals) nudge() {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	for _, f := range r.by {
		if f.NextTry.After(now) {
			f.NextTry = now
		}
	}
}

// record notes the outcome of asking cosigner name to cosign size.
func (r *refusals) record(name string, size uint64, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	f := r.by[name]
	if err == nil {
		if f != nil {
			r.log.Info().Str("cosigner", name).Int("refusals", f.Count).Time("since", f.Since).
				Msg("cosigner cosigns again")
			delete(r.by, name)
			delete(r.summary, name)
		}
		return
	}
	if f == nil {
		f = &Refusal{Cosigner: name, Since: now}
		r.by[name] = f
	}
	changed := f.Err == nil || sameRefusal(f.Err.Error()) != sameRefusal(err.Error())
	f.Count++
	f.Last, f.Size, f.Err = now, size, err
	f.NextTry = now.Add(Backoff(f.Count))
	switch {
	case changed:
		r.summary[name] = now
		r.log.Warn().Str("cosigner", name).Uint64("size", size).Err(err).Float64("retry_in_s", Backoff(f.Count).Seconds()).
			Msg("cosigner refuses to cosign; checkpoints are not published until it does")
	case now.Sub(r.summary[name]) >= RefusalSummaryEvery:
		r.summary[name] = now
		r.log.Warn().Str("cosigner", name).Uint64("size", size).Err(err).Int("refusals", f.Count).
			Time("since", f.Since).Float64("retry_in_s", Backoff(f.Count).Seconds()).Msg("cosigner still refuses to cosign")
	}
}

// sameRefusal is the refusal message without its numbers (sizes, temp
// file names), so that refusing each new checkpoint for the same reason
// is not a change of state.
func sameRefusal(msg string) string {
	var b strings.Builder
	digits := false
	for _, r := range msg {
		if r >= '0' && r <= '9' {
			if !digits {
				b.WriteByte('#')
			}
			digits = true
			continue
		}
		digits = false
		b.WriteRune(r)
	}
	return b.String()
}

// refusing returns the current refusals sorted by cosigner.
func (r *refusals) refusing() []Refusal {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Refusal, 0, len(r.by))
	for _, f := range r.by {
		out = append(out, *f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Cosigner < out[j].Cosigner })
	return out
}

// describe is one line naming every refusal, or "" if none.
func (r *refusals) describe() string {
	var parts []string
	for _, f := range r.refusing() {
		parts = append(parts, fmt.Sprintf("%s refused size %d at %s (%d times since %s): %v",
			f.Cosigner, f.Size, f.Last.UTC().Format(time.RFC3339), f.Count, f.Since.UTC().Format(time.RFC3339), f.Err))
	}
	return strings.Join(parts, "; ")
}
