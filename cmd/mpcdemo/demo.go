package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mpcq/mpcq/internal/analyst"
	"github.com/mpcq/mpcq/internal/auditor"
	"github.com/mpcq/mpcq/internal/demo"
	"github.com/mpcq/mpcq/internal/pgserver"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

func logf(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) }

// up sets up and starts a consortium and waits until it is ready.
func up(ctx context.Context, c common) (*demo.Layout, *demo.Cluster, demo.Phases, error) {
	bin, err := demo.FindBinDir()
	if err != nil {
		return nil, nil, demo.Phases{}, err
	}
	if c.dir == "" {
		if c.dir, err = os.MkdirTemp("", "mpcdemo-"); err != nil {
			return nil, nil, demo.Phases{}, err
		}
	} else if entries, _ := os.ReadDir(c.dir); len(entries) > 0 {
		return nil, nil, demo.Phases{}, fmt.Errorf("directory %s is not empty; give a new or empty --dir", c.dir)
	}
	logf("setting up a consortium of %d people in %s", c.people, c.dir)
	l, err := demo.Setup(c.dir, demo.Options{People: c.people, Seed: c.seed, ParamSet: c.paramSet, Progress: func(s string) { logf("  %s", s) }})
	if err != nil {
		return nil, nil, demo.Phases{}, err
	}
	cl := demo.NewCluster(l, bin)
	switch c.source {
	case "csv":
	case "postgres":
		parties := strings.Split(c.pgParties, ",")
		pg, err := demo.StartPostgres(ctx, l, parties)
		if err != nil {
			return nil, nil, demo.Phases{}, err
		}
		cl.AtStop(func() {
			if err := pg.Stop(); err != nil {
				logf("stopping PostgreSQL: %v", err)
			}
		})
		logf("  PostgreSQL on 127.0.0.1:%d (data in %s) serves the tables of %v; connect as %s: %s", pg.Port, l.Path("postgres"), parties, pgserver.Role, pg.ConnString("postgres"))
	default:
		return nil, nil, demo.Phases{}, fmt.Errorf("--source %q: want csv or postgres", c.source)
	}
	if err := cl.StartAll(); err != nil {
		cl.Stop()
		return nil, nil, demo.Phases{}, err
	}
	logf("started coordinator (%s) and parties %v; logs in %s", l.CoordinatorAddr, l.Parties, l.Path("logs"))
	_, client, closeFn, err := l.Analyst()
	if err != nil {
		cl.Stop()
		return nil, nil, demo.Phases{}, err
	}
	defer closeFn()
	// The ceremony and then the alignment, each bounded by the
	// coordinator's setup_timeout_s.
	wctx, cancel := context.WithTimeout(ctx, 2*demo.SetupBudget(c.people))
	defer cancel()
	ph, err := demo.WaitReady(wctx, client, func(s string) { logf("  %s", s) })
	if err != nil {
		cl.Stop()
		return nil, nil, ph, fmt.Errorf("%w; see the logs in %s", err, l.Path("logs"))
	}
	logf("consortium ready: key ceremony %.1fs, record alignment %.1fs", ph.Ceremony.Seconds(), ph.Alignment.Seconds())
	return l, cl, ph, nil
}

func cmdRun(ctx context.Context, o runOptions, stdout io.Writer) error {
	temporary := o.dir == ""
	l, cl, _, err := up(ctx, o.common)
	if err != nil {
		return err
	}
	err = runSamples(ctx, l, o.all, stdout)
	cl.Stop()
	switch {
	case err != nil:
		logf("the demo's directory is kept for inspection: %s (logs in %s)", l.Dir, l.Path("logs"))
	case temporary && !o.keep:
		if rerr := os.RemoveAll(l.Dir); rerr != nil {
			return fmt.Errorf("removing the demo's directory %s: %w", l.Dir, rerr)
		}
		logf("removed the demo's directory %s (--keep keeps it)", l.Dir)
	default:
		logf("the demo's directory is kept: %s", l.Dir)
	}
	return err
}

// runSamples runs the demo's sample queries (every one with all) on a
// ready consortium, compares each result with the plaintext oracle and
// audits the ledger.
func runSamples(ctx context.Context, l *demo.Layout, all bool, w io.Writer) error {
	db, err := demo.LoadDB(l)
	if err != nil {
		return err
	}
	p, client, closeFn, err := l.Analyst()
	if err != nil {
		return err
	}
	defer closeFn()
	failures := 0
	var queryIDs []string
	for _, s := range demo.Samples() {
		if !s.Demo && !all {
			continue
		}
		fmt.Fprintf(w, "\n== %s\n%s\n", s.Name, strings.Join(strings.Fields(s.SQL), " "))
		start := time.Now()
		res, err := p.Query(ctx, client, analyst.Request{SQL: s.SQL}, func(pr *pb.Progress) {
			logf("  [%5.1fs] %s: %s", time.Since(start).Seconds(), pr.Stage, pr.Detail)
		})
		if err != nil {
			fmt.Fprintf(w, "FAILED: %v\n", err)
			failures++
			continue
		}
		queryIDs = append(queryIDs, res.QueryID)
		want := demo.Strings(s.Expected(db))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "column\tencrypted\tplaintext\t\n")
		for i, col := range res.Columns {
			mark := "ok"
			if res.Rows[0][i] != want[i] {
				mark = "DIFFERS"
				failures++
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", col, res.Rows[0][i], want[i], mark)
		}
		_ = tw.Flush()
		fmt.Fprintf(w, "(query %s in %.2fs; parties %v)\n", res.QueryID, time.Since(start).Seconds(), res.Chain)
	}
	if failures > 0 {
		return fmt.Errorf("%d result(s) differ from the plaintext oracle", failures)
	}
	fmt.Fprintln(w, "\nevery encrypted result equals the plaintext answer")
	if err := noisyDemo(ctx, l, db, w); err != nil {
		return err
	}
	return auditLedger(ctx, l, queryIDs, w)
}

// auditLedger does what compliance staff would: verify the whole ledger
// from the coordinator with the archive's openings, and check that every
// query of the run has its QUERY and RESULT entries.
func auditLedger(ctx context.Context, l *demo.Layout, queryIDs []string, w io.Writer) error {
	a, err := auditor.Load(l.AuditorDir())
	if err != nil {
		return err
	}
	fetch, err := a.Fetcher(ctx, "")
	if err != nil {
		return err
	}
	openings, err := a.Archive(ctx)
	if err != nil {
		return err
	}
	rep, rows, err := a.Verify(ctx, fetch, openings)
	if err != nil {
		return fmt.Errorf("the ledger does not verify: %w", err)
	}
	status := map[string]string{}
	for _, r := range rows {
		status[r.QueryID] = r.Status
	}
	for _, id := range queryIDs {
		if status[id] != "answered" {
			return fmt.Errorf("query %s has no QUERY and RESULT on the ledger (status %q)", id, status[id])
		}
	}
	fmt.Fprintf(w, "\nledger %s verified by the auditor: %d entries, %d cosignatures, %d queries each with QUERY and RESULT, %d openings checked\n",
		rep.Origin, rep.Size, len(rep.Cosignatures), len(queryIDs), rep.OpeningsChecked)
	fmt.Fprintf(w, "audit it yourself: bin/mpcaudit --profile %s verify --log-dir %s --archive %s\n",
		l.AuditorDir(), l.Path("coordinator", "state", "ledger"), l.Path("coordinator", "state", "archive.db"))
	return nil
}

func cmdServe(ctx context.Context, c common, stdout io.Writer) error {
	l, cl, _, err := up(ctx, c)
	if err != nil {
		return err
	}
	defer cl.Stop()
	fmt.Fprintf(stdout, `
The consortium is serving. In another terminal:

  bin/mpcq --profile %[1]s status
  bin/mpcq --profile %[1]s schema
  bin/mpcq --profile %[1]s query "SELECT COUNT(*), SUM(bank.cash_deposits_30d) FROM telecom JOIN bank USING (person_id) JOIN utility USING (person_id) WHERE utility.kwh_30d > 5000 AND bank.cash_deposits_30d > 50000"

Data: %[2]s   Logs: %[3]s
Press Ctrl-C to stop.
`, l.AnalystDir(), l.Path("data"), l.Path("logs"))
	<-ctx.Done()
	logf("stopping")
	return nil
}
