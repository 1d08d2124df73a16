// Command mpcdemo starts a whole local consortium on loopback (synthetic
// data, a fresh CA, the coordinator and three party daemons as child
// processes, real crypto) and runs sample queries against a plaintext
// oracle, serves it for mpcq, or benchmarks it.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/mpcq/mpcq/internal/cli"

	"github.com/mpcq/mpcq/internal/analyst"
	"github.com/mpcq/mpcq/internal/auditor"
	"github.com/mpcq/mpcq/internal/demo"
	"github.com/mpcq/mpcq/internal/pgserver"
	"github.com/mpcq/mpcq/mpc"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

const usage = `Usage: mpcdemo COMMAND [flags]

Commands:
  run    set up a local consortium (coordinator + telecom, bank, utility),
         run sample queries, print each result beside the plaintext answer
         computed independently from the CSVs; exit 1 if any differs.
         Its temporary directory is removed at the end unless --keep
         (kept when a query fails, for its logs)
  serve  set up into --dir and keep serving until interrupted; use mpcq
         with --profile DIR/analyst
  bench  run the whole flow and print ceremony, alignment and query times,
         bytes per party, peak RSS per process and the plaintext baseline

Run 'mpcdemo COMMAND --help' for the flags of a command.
`

func main() {
	if cli.WantsVersion(os.Args[1:]) {
		fmt.Println(cli.Version("mpcdemo"))
		return
	}
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = cmdRun(os.Args[2:])
	case "serve":
		err = cmdServe(os.Args[2:])
	case "bench":
		err = cmdBench(os.Args[2:])
	case "-h", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "mpcdemo: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mpcdemo:", err)
		os.Exit(1)
	}
}

type common struct {
	people   int
	seed     int64
	dir      string
	paramSet string
	keep     bool
	// source is where the parties read their tables: csv or postgres
	// (the demo's own server in DIR/postgres, for pgParties).
	source    string
	pgParties string
}

func flags(name string, c *common, defPeople int) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	fs.IntVar(&c.people, "people", defPeople, "number of synthetic people")
	fs.Int64Var(&c.seed, "seed", 1, "seed of the synthetic data")
	fs.StringVar(&c.dir, "dir", "", "directory for data, keys, configs and logs (default: a new temporary directory)")
	fs.StringVar(&c.paramSet, "params", mpc.DefaultSetName, "parameter set")
	fs.StringVar(&c.source, "source", "csv", "where parties read their tables: csv, or postgres (a PostgreSQL server started in DIR/postgres, stopped at exit)")
	fs.StringVar(&c.pgParties, "postgres-parties", "bank,telecom,utility", "with --source postgres: the parties reading from PostgreSQL (comma-separated)")
	return fs
}

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
	wctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	ph, err := demo.WaitReady(wctx, client, func(s string) { logf("  %s", s) })
	if err != nil {
		cl.Stop()
		return nil, nil, ph, fmt.Errorf("%w; see the logs in %s", err, l.Path("logs"))
	}
	logf("consortium ready: key ceremony %.1fs, record alignment %.1fs", ph.Ceremony.Seconds(), ph.Alignment.Seconds())
	return l, cl, ph, nil
}

func cmdRun(args []string) error {
	var c common
	fs := flags("run", &c, 20000)
	all := fs.Bool("all", false, "run every sample query, not only the demo's selection")
	fs.BoolVar(&c.keep, "keep", false, "keep the temporary directory (data, keys, configs, logs) after a successful run; a --dir is always kept")
	_ = fs.Parse(args)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	temporary := c.dir == ""
	l, cl, _, err := up(ctx, c)
	if err != nil {
		return err
	}
	err = runSamples(ctx, l, *all)
	cl.Stop()
	switch {
	case err != nil:
		logf("the demo's directory is kept for inspection: %s (logs in %s)", l.Dir, l.Path("logs"))
	case temporary && !c.keep:
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
func runSamples(ctx context.Context, l *demo.Layout, all bool) error {
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
		fmt.Printf("\n== %s\n%s\n", s.Name, strings.Join(strings.Fields(s.SQL), " "))
		start := time.Now()
		res, err := p.Query(ctx, client, analyst.Request{SQL: s.SQL}, func(pr *pb.Progress) {
			logf("  [%5.1fs] %s: %s", time.Since(start).Seconds(), pr.Stage, pr.Detail)
		})
		if err != nil {
			fmt.Printf("FAILED: %v\n", err)
			failures++
			continue
		}
		queryIDs = append(queryIDs, res.QueryID)
		want := demo.Strings(s.Expected(db))
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
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
		fmt.Printf("(query %s in %.2fs; parties %v)\n", res.QueryID, time.Since(start).Seconds(), res.Chain)
	}
	if failures > 0 {
		return fmt.Errorf("%d result(s) differ from the plaintext oracle", failures)
	}
	fmt.Println("\nevery encrypted result equals the plaintext answer")
	if err := noisyDemo(ctx, l, db); err != nil {
		return err
	}
	return auditLedger(ctx, l, queryIDs)
}

// auditLedger does what compliance staff would: verify the whole ledger
// from the coordinator with the archive's openings, and check that every
// query of the run has its QUERY and RESULT entries.
func auditLedger(ctx context.Context, l *demo.Layout, queryIDs []string) error {
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
	fmt.Printf("\nledger %s verified by the auditor: %d entries, %d cosignatures, %d queries each with QUERY and RESULT, %d openings checked\n",
		rep.Origin, rep.Size, len(rep.Cosignatures), len(queryIDs), rep.OpeningsChecked)
	fmt.Printf("audit it yourself: bin/mpcaudit --profile %s verify --log-dir %s --archive %s\n",
		l.AuditorDir(), l.Path("coordinator", "state", "ledger"), l.Path("coordinator", "state", "archive.db"))
	return nil
}

func cmdServe(args []string) error {
	var c common
	fs := flags("serve", &c, 20000)
	_ = fs.Parse(args)
	if c.dir == "" {
		return fmt.Errorf("serve needs --dir DIR (a new or empty directory)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	l, cl, _, err := up(ctx, c)
	if err != nil {
		return err
	}
	defer cl.Stop()
	fmt.Printf(`
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

// benchCase is one benchmarked query with its plaintext computation on
// typed columns (what a central database would do on pooled data).
type benchCase struct {
	name  string
	sql   string
	plain func(db demo.ColumnarDB) [][]string
}

func benchCases() []benchCase {
	spine := func(db demo.ColumnarDB, byDistrict bool) [][]string {
		t, b, u := db["telecom"], db["bank"], db["utility"]
		flag, cash, kwh := t.Ints["flagged_calls_30d"], b.Ints["cash_deposits_30d"], u.Ints["kwh_30d"]
		dist := u.Cats["district"]
		counts, sums := map[string]uint64{}, map[string]uint64{}
		db.Join([]string{"telecom", "bank", "utility"}, func(r []int32) {
			if flag[r[0]] > 0 && cash[r[1]] > 10000 && kwh[r[2]] > 1000 {
				k := ""
				if byDistrict {
					k = dist[r[2]]
				}
				counts[k]++
				sums[k] += uint64(cash[r[1]])
			}
		})
		if !byDistrict {
			return [][]string{{fmt.Sprint(counts[""]), fmt.Sprint(sums[""])}}
		}
		var rows [][]string
		for d := 1; d <= 10; d++ {
			k := fmt.Sprintf("D%02d", d)
			rows = append(rows, []string{k, fmt.Sprint(counts[k]), fmt.Sprint(sums[k])})
		}
		return rows
	}
	return []benchCase{
		{name: "spine", sql: `SELECT COUNT(*), SUM(bank.cash_deposits_30d) FROM telecom JOIN bank USING (person_id) JOIN utility USING (person_id) WHERE telecom.flagged_calls_30d > 0 AND bank.cash_deposits_30d > 10000 AND utility.kwh_30d > 1000`,
			plain: func(db demo.ColumnarDB) [][]string { return spine(db, false) }},
		{name: "group", sql: `SELECT utility.district, COUNT(*), SUM(bank.cash_deposits_30d) FROM telecom JOIN bank USING (person_id) JOIN utility USING (person_id) WHERE telecom.flagged_calls_30d > 0 AND bank.cash_deposits_30d > 10000 AND utility.kwh_30d > 1000 GROUP BY utility.district`,
			plain: func(db demo.ColumnarDB) [][]string { return spine(db, true) }},
		{name: "or", sql: `SELECT COUNT(*) FROM telecom JOIN bank USING (person_id) WHERE telecom.flagged_calls_30d > 20 OR bank.transfers_abroad_30d > 5`,
			plain: func(db demo.ColumnarDB) [][]string {
				flag, tr := db["telecom"].Ints["flagged_calls_30d"], db["bank"].Ints["transfers_abroad_30d"]
				n := 0
				db.Join([]string{"telecom", "bank"}, func(r []int32) {
					if flag[r[0]] > 20 || tr[r[1]] > 5 {
						n++
					}
				})
				return [][]string{{fmt.Sprint(n)}}
			}},
	}
}

type benchResult struct {
	People        int               `json:"people"`
	CeremonyS     float64           `json:"ceremony_s"`
	AlignmentS    float64           `json:"alignment_s"`
	QueryS        float64           `json:"query_s"`
	PlaintextS    float64           `json:"plaintext_s"`
	Ratio         float64           `json:"ratio"`
	BytesPerParty map[string]uint64 `json:"bytes_per_party"`
	PeakRSSBytes  map[string]uint64 `json:"peak_rss_bytes"`
	Runs          int               `json:"runs"`
	// The analysts' language (GROUP BY over ten districts, OR across
	// institutions): medians, and the group query's time over the spine's.
	GroupQueryS     float64 `json:"group_query_s"`
	GroupPlaintextS float64 `json:"group_plaintext_s"`
	GroupToSpine    float64 `json:"group_to_spine"`
	OrQueryS        float64 `json:"or_query_s"`
	OrPlaintextS    float64 `json:"or_plaintext_s"`
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func cmdBench(args []string) error {
	var c common
	fs := flags("bench", &c, 100000)
	asJSON := fs.Bool("json", false, "print the figures as JSON")
	runs := fs.Int("runs", 5, "query repetitions (the median is reported)")
	_ = fs.Parse(args)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	l, cl, ph, err := up(ctx, c)
	if err != nil {
		return err
	}
	defer cl.Stop()
	p, client, closeFn, err := l.Analyst()
	if err != nil {
		return err
	}
	defer closeFn()
	logf("loading the plaintext baseline into typed columns (not timed)")
	db, err := demo.LoadDB(l)
	if err != nil {
		return err
	}
	cols := db.Columnar()
	r := benchResult{People: c.people, CeremonyS: ph.Ceremony.Seconds(), AlignmentS: ph.Alignment.Seconds(), BytesPerParty: map[string]uint64{}, PeakRSSBytes: map[string]uint64{}, Runs: *runs}
	for _, bc := range benchCases() {
		var qs, ps []float64
		for i := 0; i < *runs; i++ {
			start := time.Now()
			res, err := p.Query(ctx, client, analyst.Request{SQL: bc.sql}, nil)
			if err != nil {
				return fmt.Errorf("%s query: %w", bc.name, err)
			}
			qs = append(qs, time.Since(start).Seconds())
			start = time.Now()
			want := bc.plain(cols)
			ps = append(ps, time.Since(start).Seconds())
			if !slices.EqualFunc(want, res.Rows, slices.Equal[[]string]) {
				return fmt.Errorf("%s query: encrypted %v differs from plaintext %v", bc.name, res.Rows, want)
			}
			if bc.name == "spine" {
				for j, n := range res.Chain {
					r.BytesPerParty[n] = res.BytesPerParty[j]
				}
			}
			logf("  %s run %d: encrypted %.2fs, plaintext %.3fs", bc.name, i+1, qs[i], ps[i])
		}
		switch bc.name {
		case "spine":
			r.QueryS, r.PlaintextS = median(qs), median(ps)
		case "group":
			r.GroupQueryS, r.GroupPlaintextS = median(qs), median(ps)
		case "or":
			r.OrQueryS, r.OrPlaintextS = median(qs), median(ps)
		}
	}
	if r.PlaintextS > 0 {
		r.Ratio = r.QueryS / r.PlaintextS
	}
	if r.QueryS > 0 {
		r.GroupToSpine = r.GroupQueryS / r.QueryS
	}
	for name, pid := range cl.PIDs() {
		if rss, err := demo.PeakRSS(pid); err == nil {
			r.PeakRSSBytes[name] = rss
		}
	}
	if *asJSON {
		return json.NewEncoder(os.Stdout).Encode(r)
	}
	printBench(os.Stdout, r)
	return nil
}

func printBench(w io.Writer, r benchResult) {
	fmt.Fprintf(w, "people              %d\n", r.People)
	fmt.Fprintf(w, "key ceremony        %.2f s\n", r.CeremonyS)
	fmt.Fprintf(w, "record alignment    %.2f s\n", r.AlignmentS)
	fmt.Fprintf(w, "query (median of %d) %.3f s   three-party COUNT+SUM, one predicate per party\n", r.Runs, r.QueryS)
	fmt.Fprintf(w, "plaintext same query %.3f s   ratio %.0fx\n", r.PlaintextS, r.Ratio)
	fmt.Fprintf(w, "GROUP BY 10 districts %.3f s (plaintext %.3f s)   %.2fx the single-group query\n", r.GroupQueryS, r.GroupPlaintextS, r.GroupToSpine)
	fmt.Fprintf(w, "OR across institutions %.3f s (plaintext %.3f s)\n", r.OrQueryS, r.OrPlaintextS)
	for _, n := range sortedKeys(r.BytesPerParty) {
		fmt.Fprintf(w, "bytes sent by %-8s %.1f MiB per query\n", n, float64(r.BytesPerParty[n])/(1<<20))
	}
	for _, n := range sortedKeys(r.PeakRSSBytes) {
		fmt.Fprintf(w, "peak RSS %-12s %.0f MiB\n", n, float64(r.PeakRSSBytes[n])/(1<<20))
	}
}

func sortedKeys(m map[string]uint64) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
