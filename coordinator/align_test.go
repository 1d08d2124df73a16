package coordinator

import (
	"testing"
	"time"
)

func TestAlignProgressText(t *testing.T) {
	start := time.Unix(1000, 0)
	a := &alignProgress{total: 7_350_000, start: start}
	if got := a.text(start); got != "0% of 7.35 M blindings" {
		t.Errorf("at the start: %q", got)
	}
	a.add(2_450_000)
	// A third done in 80 s: two thirds left take about 160 s.
	if got := a.text(start.Add(80 * time.Second)); got != "33% of 7.35 M blindings, about 2m40s left" {
		t.Errorf("a third done: %q", got)
	}
	a.add(4_900_000)
	if got := a.text(start.Add(240 * time.Second)); got != "100% of 7.35 M blindings" {
		t.Errorf("all done: %q", got)
	}
	if got := (&alignProgress{start: start}).text(start); got != "0 blindings" {
		t.Errorf("no total known: %q", got)
	}
}
