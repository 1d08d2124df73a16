package console

import (
	"fmt"
	"strings"
	"time"
)

// Chart is a step line of a cumulative value over time, drawn by the
// templates as inline SVG: numbers only, nothing from the ledger.
type Chart struct {
	Title         string
	Width, Height int
	// Points is the polyline's points attribute ("x,y x,y ...").
	Points string
	// Dots are the sample positions (one per query).
	Dots []Dot
	// Axis labels.
	From, To, Max string
	Empty         bool
}

// Dot is one point of a chart.
type Dot struct {
	X, Y  float64
	Label string
}

// Sample is one (time, increment) of a cumulative chart.
type Sample struct {
	At    time.Time
	Value float64
}

const (
	chartW, chartH = 560, 160
	chartPad       = 30
)

// StepChart draws the running total of samples (sorted by time) as a
// step line. format renders the total for the axis label. Pure.
func StepChart(title string, samples []Sample, format func(float64) string) Chart {
	c := Chart{Title: title, Width: chartW, Height: chartH}
	if len(samples) == 0 {
		c.Empty = true
		return c
	}
	t0, t1 := samples[0].At, samples[len(samples)-1].At
	span := t1.Sub(t0)
	if span <= 0 {
		span = time.Minute
	}
	total := 0.0
	for _, s := range samples {
		total += s.Value
	}
	if total <= 0 {
		total = 1
	}
	x := func(t time.Time) float64 {
		return chartPad + float64(t.Sub(t0))/float64(span)*float64(chartW-2*chartPad)
	}
	y := func(v float64) float64 { return float64(chartH-chartPad) - v/total*float64(chartH-2*chartPad) }
	var pts []string
	run := 0.0
	pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(t0), y(0)))
	for _, s := range samples {
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(s.At), y(run)))
		run += s.Value
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(s.At), y(run)))
		c.Dots = append(c.Dots, Dot{X: x(s.At), Y: y(run), Label: fmt.Sprintf("%s: %s", s.At.UTC().Format(time.RFC3339), format(run))})
	}
	pts = append(pts, fmt.Sprintf("%.1f,%.1f", float64(chartW-chartPad), y(run)))
	c.Points = strings.Join(pts, " ")
	c.From, c.To, c.Max = t0.UTC().Format("2006-01-02 15:04"), t1.UTC().Format("2006-01-02 15:04"), format(run)
	return c
}
