package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/mpcq/mpcq/internal/analyst"
	"github.com/mpcq/mpcq/internal/demo"
)

// noisyDemo asks one sample query again as the demo's second analyst, who
// has no warrant: the parties answer with differential-privacy noise they
// add themselves while decrypting (ε 1, a budget of 10 per day), shown
// beside the exact answer the warranted analyst got.
func noisyDemo(ctx context.Context, l *demo.Layout, db *demo.DB, w io.Writer) error {
	var sample demo.Sample
	for _, s := range demo.Samples() {
		if s.Demo {
			sample = s
			break
		}
	}
	p, err := analyst.Load(l.AnalystDPDir())
	if err != nil {
		return err
	}
	conn, client, err := p.Dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	fmt.Fprintf(w, "\n== the same question without a warrant (profile %s)\n%s\n", l.AnalystDPDir(), strings.Join(strings.Fields(sample.SQL), " "))
	res, err := p.Query(ctx, client, analyst.Request{SQL: sample.SQL}, nil)
	if err != nil {
		return fmt.Errorf("noisy query: %w", err)
	}
	if !res.Noisy() {
		return fmt.Errorf("the analyst without a warrant got an exact answer")
	}
	want := demo.Strings(sample.Expected(db))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "column\tnoisy\texact\t\n")
	for i, col := range res.Columns {
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", col, res.Cell(0, i), want[i])
	}
	_ = tw.Flush()
	fmt.Fprint(w, res.Legend())
	fmt.Fprintf(w, "(query %s; this analyst may spend ε %s per day at every party: mpcq explain shows what is left)\n", res.QueryID, demo.DemoDailyBudget)
	return nil
}
