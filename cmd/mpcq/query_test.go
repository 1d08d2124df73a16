package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/mpcq/mpcq/internal/analyst"
	"github.com/mpcq/mpcq/plan"
)

func TestPrintResult(t *testing.T) {
	exact := &analyst.Result{Columns: []string{"n"}, Rows: [][]string{{"12"}}}
	var b bytes.Buffer
	if err := printResult(&b, exact); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "±") || strings.Contains(b.String(), "noisy") {
		t.Errorf("exact result printed as noisy:\n%s", b.String())
	}
	noisy := &analyst.Result{Columns: []string{"n", "avg"}, Rows: [][]string{{"1234", "3.500000"}}, EpsilonMilli: 1000, Collusion: 2,
		Intervals: [][]plan.Interval{{{Low: "1178", High: "1290", HalfWidth: "56"}, {Low: "1.000000", High: "7.000000"}}}}
	b.Reset()
	if err := printResult(&b, noisy); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1234 ±56", "3.500000 [1.000000, 7.000000]",
		"noisy result: ε=1 (k=2: the guarantee holds against the analyst colluding with up to 2 parties); ± is a 95% interval",
		"union bound"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}
