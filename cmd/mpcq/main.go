// Command mpcq is the police analyst's client: it sends SQL joint queries
// to the coordinator and decrypts the aggregate results, which only the
// analyst's own key (in the profile) can read.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc/status"

	"github.com/mpcq/mpcq/internal/analyst"
	"github.com/mpcq/mpcq/internal/cli"
	"github.com/mpcq/mpcq/mpc"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

const usage = `Usage: mpcq --profile DIR COMMAND [flags] [args]

Commands:
  query "SQL"   run a joint query; prints a table (or --json)
                flags: --purpose TEXT --legal-basis TEXT (warrant or case
                reference; defaults from the profile), --json, --quiet,
                --timeout DURATION, and the privacy flags:
                --epsilon E     differential privacy budget ε to spend, a
                                decimal with at most 3 decimals (0: exact
                                totals, which the warrant and the parties'
                                policies must allow). Default: exact if the
                                warrant allows it, else the profile's
                                default_epsilon, else 1
                --collusion K   the noise protects against you colluding
                                with up to K parties (K+1 parties add noise;
                                at most the number of parties − 1, the
                                default unless the profile sets collusion)
                --warrant FILE  attach this signed warrant instead of the
                                profile's
                --no-warrant    attach no warrant
                A noisy result prints each value with its 95% interval,
                "1234 ±56" for COUNT and SUM; AVG, VARIANCE and STDDEV
                are computed from the noisy parts, with a conservative
                interval "[low, high]".
  explain "SQL" show the plan per institution, ciphertexts and bytes each
                party sends, depth, worst cases against the modulus and an
                estimated time; then the privacy: ε, collusion tolerance and
                warrant, each total's noise and 95% half-width, and how
                every party's policy decides the query with the ε budget
                left; runs nothing and charges nothing (same as query
                --dry-run, which also takes --epsilon, --collusion,
                --warrant, or "EXPLAIN SELECT ...")
  status        exit 0 when the coordinator and every party are up and ready
                and every party cosigns the ledger
  schema        list the consortium's tables, columns, types, bounds and
                categories (--json for JSON)
  keygen        make a new RLWE key pair in the profile

SQL:
  SELECT [group columns,] COUNT(*) | SUM(t.c) | AVG(t.c) | VARIANCE(t.c) | STDDEV(t.c) [AS name], ...
  FROM t1 [[LEFT] JOIN t2 USING (person_id) [[LEFT] JOIN t3 USING (person_id)]]
  [WHERE conditions combined with AND, OR, NOT and parentheses: t.c OP integer,
   t.cat = 'value', t.c OP 3 * t.d (columns of one institution), t.c IN (...),
   t.c BETWEEN a AND b, t.person_id IS [NOT] NULL for a LEFT JOINed table]
  [GROUP BY t.cat [, u.cat]]

Example:
  mpcq --profile demo/analyst query "SELECT COUNT(*) FROM telecom JOIN bank USING (person_id) WHERE telecom.flagged_calls_30d > 20"
`

const queryUsage = `Usage: mpcq --profile DIR query [flags] "SQL"

Runs a joint query and prints its result (a table, or JSON with --json).

Privacy: a query's totals are exact (ε 0) or get differential-privacy
noise of budget ε, which the parties add when decrypting, so no one knows
the total noise. With --epsilon unset, the query is exact if the attached
warrant allows exact results, else it uses the profile's default_epsilon,
else ε = 1. The noise protects against you colluding with up to K parties
(--collusion K; K+1 parties add noise; the default is the number of
parties − 1, the strongest, unless the profile sets "collusion"). The
warrant attached is the profile's ("warrant" in profile.json), the one
--warrant names, or none with --no-warrant; the request you sign names ε,
K and the warrant's hash.

A noisy result shows each COUNT and SUM as "value ±h": h is the 95%
half-width of its noise. AVG, VARIANCE and STDDEV are computed from the
noisy COUNT, SUM and sum of squares, with a conservative interval
"[low, high]" that holds the true value with probability at least 90%
(AVG) or 85% (VARIANCE, STDDEV). A noisy count may be negative; AVG is
NULL when it is below 1, VARIANCE and STDDEV when it is below 2.

Flags:
`

func main() {
	if cli.WantsVersion(os.Args[1:]) {
		fmt.Println(cli.Version("mpcq"))
		return
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mpcq", flag.ContinueOnError)
	fs.SetOutput(stderr)
	profileDir := fs.String("profile", os.Getenv("MPCQ_PROFILE"), "analyst profile directory (or $MPCQ_PROFILE)")
	fs.Usage = func() { fmt.Fprint(stderr, usage, "\nGlobal flags:\n"); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 || *profileDir == "" {
		fs.Usage()
		return 2
	}
	cmd, rest := fs.Arg(0), fs.Args()[1:]
	var err error
	switch cmd {
	case "query":
		err = cmdQuery(*profileDir, rest, stdout, stderr)
	case "status":
		err = cmdStatus(*profileDir, rest, stdout)
	case "schema":
		err = cmdSchema(*profileDir, rest, stdout)
	case "explain":
		if len(rest) != 1 {
			err = usageError{`explain takes exactly one SQL argument, in quotes`}
			break
		}
		err = cmdExplain(*profileDir, analyst.Request{SQL: rest[0]}, stdout)
	case "keygen":
		err = cmdKeygen(*profileDir)
	default:
		fmt.Fprintf(stderr, "mpcq: unknown command %q\n\n", cmd)
		fs.Usage()
		return 2
	}
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintln(stderr, "mpcq:", err)
			return 2
		}
		if errors.Is(err, errInterrupted) {
			fmt.Fprintln(stderr, "mpcq:", err)
			return 130 // 128 + SIGINT, as shells report it
		}
		if st, ok := status.FromError(err); ok {
			fmt.Fprintf(stderr, "mpcq: %s: %s\n", st.Code(), st.Message())
		} else {
			fmt.Fprintln(stderr, "mpcq:", err)
		}
		return 1
	}
	return 0
}

type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func cmdQuery(dir string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("query", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, queryUsage); fs.PrintDefaults() }
	asJSON := fs.Bool("json", false, `print {"query_id":..., "columns":[...], "rows":[[...]]} (a noisy result adds "epsilon", "collusion" and "intervals")`)
	purpose := fs.String("purpose", "", "why the query is asked (recorded, salted and hashed, on the ledger)")
	basis := fs.String("legal-basis", "", "warrant or case reference")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after this long")
	dryRun := fs.Bool("dry-run", false, "show the plan (as explain) and run nothing")
	epsilon := fs.String("epsilon", "", "privacy budget ε to spend, e.g. 0.5 (0: exact totals); default: exact if the warrant allows it, else the profile's default_epsilon, else 1")
	collusion := fs.Int("collusion", 0, "collusion tolerance K: the noise protects against you colluding with up to K parties (default: number of parties − 1, or the profile's)")
	warrantFile := fs.String("warrant", "", "signed warrant `FILE` to attach instead of the profile's")
	noWarrant := fs.Bool("no-warrant", false, "attach no warrant, not even the profile's")
	// Flags may come before or after the SQL.
	err := cli.ParseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil || fs.NArg() != 1 {
		return usageError{`query takes exactly one SQL argument, in quotes: mpcq --profile DIR query "SELECT ..."`}
	}
	req := analyst.Request{SQL: fs.Arg(0), Purpose: *purpose, LegalBasis: *basis, Epsilon: *epsilon, NoWarrant: *noWarrant}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "collusion" {
			req.Collusion = collusion
		}
	})
	if *warrantFile != "" {
		if *noWarrant {
			return usageError{"--warrant and --no-warrant exclude each other"}
		}
		b, err := os.ReadFile(*warrantFile)
		if err != nil {
			return fmt.Errorf("reading the --warrant file: %w", err)
		}
		req.Warrant = b
	}
	if *dryRun || isExplain(fs.Arg(0)) {
		return cmdExplain(dir, req, stdout)
	}
	p, client, closeFn, err := connect(dir)
	if err != nil {
		return err
	}
	defer closeFn()
	// Ctrl-C cancels the query: the coordinator stops it and records the
	// cancellation on the ledger as the analyst's, blaming no party.
	sigCtx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	ctx, cancel := context.WithTimeout(sigCtx, *timeout)
	defer cancel()
	start := time.Now()
	progress := func(pr *pb.Progress) {
		if !*quiet {
			fmt.Fprintf(stderr, "[%5.1fs] %s: %s\n", time.Since(start).Seconds(), pr.Stage, pr.Detail)
		}
	}
	res, err := p.Query(ctx, client, req, progress)
	if err != nil {
		if sigCtx.Err() != nil {
			return errInterrupted
		}
		if ctx.Err() == context.DeadlineExceeded {
			return fmt.Errorf("no answer within --timeout %s; the query was cancelled (the ledger records it): %w", *timeout, err)
		}
		return err
	}
	if !*quiet {
		fmt.Fprintf(stderr, "[%5.1fs] done: query %s\n", time.Since(start).Seconds(), res.QueryID)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		return enc.Encode(res)
	}
	return printResult(stdout, res)
}

// errInterrupted is the error of a query cancelled with Ctrl-C.
var errInterrupted = errors.New("interrupted: the query was cancelled; if it was already committed, the ledger records the cancellation as yours")

// printResult prints a result as a table: exact values, or noisy values
// with their 95% intervals and a legend under the table.
func printResult(w io.Writer, res *analyst.Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(res.Columns, "\t")+"\t")
	for i, row := range res.Rows {
		cells := make([]string, len(row))
		for j := range row {
			cells[j] = res.Cell(i, j)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprint(w, res.Legend())
	return err
}

func cmdStatus(dir string, args []string, stdout io.Writer) error {
	p, client, closeFn, err := connect(dir)
	if err != nil {
		return err
	}
	defer closeFn()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	st, err := client.Status(ctx, &pb.StatusRequest{})
	if err != nil {
		return fmt.Errorf("coordinator %s: %w", p.Config.Coordinator, err)
	}
	fmt.Fprintf(stdout, "coordinator %s: phase %s, parameter set %s, ceremony %s, epoch %s, %d entities\n",
		p.Config.Coordinator, st.Phase, st.ParamSet, orNone(st.CeremonyId), orNone(st.EpochId), st.Entities)
	if st.Detail != "" {
		fmt.Fprintf(stdout, "  %s: %s\n", st.Phase, st.Detail) // e.g. the alignment's progress and time left
	}
	for _, ps := range st.Parties {
		state := "up"
		if !ps.Up {
			state = "DOWN: " + ps.Error
		} else if !ps.Ready {
			state = "up, not ready"
		}
		fmt.Fprintf(stdout, "  party %-10s table %-10s rows %-9d %s\n", ps.Name, ps.Table, ps.Rows, state)
	}
	if st.Error != "" {
		fmt.Fprintf(stdout, "  last error: %s\n", st.Error)
	}
	healthy := printLedgerHealth(stdout, st.Ledger, time.Now())
	// Ready includes the ledger's health: set up but with a ledger that
	// cannot publish is not ready, for the ledger's reason.
	switch {
	case !st.Ready && st.Phase != "ready":
		return fmt.Errorf("not ready (phase %s)", st.Phase)
	case !healthy:
		return errors.New("not ready: the ledger cannot record queries (see above); no query can be committed until every party cosigns")
	case !st.Ready:
		return fmt.Errorf("not ready (phase %s): %s", st.Phase, orNone(st.Error))
	}
	fmt.Fprintln(stdout, "ready")
	return nil
}

// printLedgerHealth prints the ledger's state and reports whether it is
// healthy (every party cosigns). A coordinator that does not report it
// (older versions) counts as healthy.
func printLedgerHealth(w io.Writer, h *pb.LedgerHealth, now time.Time) bool {
	if h == nil {
		return true
	}
	if !h.Open {
		fmt.Fprintf(w, "  ledger: not open: %s\n", h.Error)
		return false
	}
	ago := "never"
	if h.CosignedUnix > 0 {
		ago = now.Sub(time.Unix(h.CosignedUnix, 0)).Round(time.Second).String() + " ago"
	}
	state := "healthy"
	if !h.Healthy {
		state = "NOT HEALTHY"
	}
	fmt.Fprintf(w, "  ledger: %s: checkpoint size %d cosigned by every party %s, %d entries waiting for cosignatures\n",
		state, h.CheckpointSize, ago, h.PendingEntries)
	if h.Error != "" {
		fmt.Fprintf(w, "  ledger error: %s\n", h.Error)
	}
	for _, r := range h.Refusals {
		fmt.Fprintf(w, "  party %s refuses to cosign (size %d, %d refusals since %s, next retry in %s): %s\n",
			r.Party, r.CheckpointSize, r.Refusals, time.Unix(r.SinceUnix, 0).UTC().Format(time.RFC3339),
			max(time.Unix(r.NextRetryUnix, 0).Sub(now), 0).Round(time.Second), r.Error)
	}
	return h.Healthy
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// connect loads the profile and dials the coordinator.
func connect(dir string) (*analyst.Profile, pb.CoordinatorClient, func(), error) {
	p, err := analyst.Load(dir)
	if err != nil {
		return nil, nil, nil, err
	}
	conn, client, err := p.Dial()
	if err != nil {
		return nil, nil, nil, err
	}
	return p, client, func() { conn.Close() }, nil
}

func isExplain(sql string) bool {
	f := strings.Fields(sql)
	return len(f) > 0 && strings.EqualFold(f[0], "explain")
}

func cmdExplain(dir string, req analyst.Request, stdout io.Writer) error {
	p, client, closeFn, err := connect(dir)
	if err != nil {
		return err
	}
	defer closeFn()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := p.Explain(ctx, client, req.SQL)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprint(stdout, e.String()); err != nil {
		return err
	}
	if isExplain(req.SQL) {
		// The privacy part plans the query itself, without EXPLAIN.
		req.SQL = strings.TrimSpace(req.SQL)[len("explain"):]
	}
	priv, err := p.ExplainPrivacy(ctx, client, req)
	if err != nil {
		return fmt.Errorf("privacy and policies: %w", err)
	}
	_, err = fmt.Fprint(stdout, priv)
	return err
}

func cmdSchema(dir string, args []string, stdout io.Writer) error {
	asJSON := len(args) > 0 && (args[0] == "--json" || args[0] == "-json")
	_, client, closeFn, err := connect(dir)
	if err != nil {
		return err
	}
	defer closeFn()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	r, err := client.Schema(ctx, &pb.SchemaRequest{})
	if err != nil {
		return err
	}
	if asJSON {
		type col struct {
			Name       string   `json:"name"`
			Kind       string   `json:"kind"`
			Min        *int64   `json:"min,omitempty"`
			Max        *int64   `json:"max,omitempty"`
			Categories []string `json:"categories,omitempty"`
		}
		type tbl struct {
			Name    string `json:"name"`
			Key     string `json:"key"`
			Columns []col  `json:"columns"`
		}
		out := struct {
			Tables           []tbl  `json:"tables"`
			ParamSet         string `json:"param_set"`
			PlaintextModulus uint64 `json:"plaintext_modulus"`
			Entities         uint64 `json:"entities"`
		}{ParamSet: r.ParamSet, PlaintextModulus: r.PlaintextModulus, Entities: r.Entities}
		for _, t := range r.Tables {
			tt := tbl{Name: t.Name, Key: t.Key}
			for _, c := range t.Columns {
				cc := col{Name: c.Name, Kind: c.Kind, Categories: c.Categories}
				if c.Kind == "int" {
					mn, mx := c.Min, c.Max
					cc.Min, cc.Max = &mn, &mx
				}
				tt.Columns = append(tt.Columns, cc)
			}
			out.Tables = append(out.Tables, tt)
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "TABLE\tCOLUMN\tTYPE\tBOUNDS\n")
	for _, t := range r.Tables {
		fmt.Fprintf(tw, "%s\t%s\tperson key\t\n", t.Name, t.Key)
		for _, c := range t.Columns {
			b := fmt.Sprintf("%d..%d", c.Min, c.Max)
			if c.Kind == "category" {
				b = strings.Join(c.Categories, ",")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, c.Name, c.Kind, b)
		}
	}
	fmt.Fprintf(tw, "\nparameter set %s; totals must stay below %d; %d aligned entities\n", r.ParamSet, r.PlaintextModulus, r.Entities)
	return tw.Flush()
}

func cmdKeygen(dir string) error {
	p, err := analyst.Load(dir)
	if err != nil && !errors.Is(err, analyst.ErrProfile) {
		return err
	}
	name := mpc.DefaultSetName
	if p != nil {
		name = p.Config.ParamSet
	}
	params, err := mpc.NewParams(name)
	if err != nil {
		return err
	}
	return analyst.GenerateKeys(dir, params)
}
