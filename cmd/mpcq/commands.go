package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/mpcq/mpcq/internal/analyst"
	"github.com/mpcq/mpcq/internal/cli"
	"github.com/mpcq/mpcq/mpc"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

const queryLong = `Runs a joint query and prints its result: a table, or with -o json
{"query_id":..., "columns":[...], "rows":[[...]]} (a noisy result adds
"epsilon", "collusion" and "intervals"). Progress goes to stderr (--quiet
drops it). Flags may come before or after the SQL.

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

Ctrl-C cancels the query: mpcq says so and exits 130, and the ledger
records the cancellation as yours.`

// privacyFlags are the flags that choose a query's privacy, shared by
// query and explain.
type privacyFlags struct {
	epsilon     string
	collusion   int
	warrantFile string
	noWarrant   bool
}

func (pf *privacyFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&pf.epsilon, "epsilon", "", "privacy budget `E` (ε) to spend, a decimal with at most 3 decimals, e.g. 0.5 (0: exact totals, which the warrant and the parties' policies must allow); default: exact if the warrant allows it, else the profile's default_epsilon, else 1")
	f.IntVar(&pf.collusion, "collusion", 0, "collusion tolerance `K`: the noise protects against you colluding with up to K parties (K+1 parties add noise; default: the number of parties − 1, or the profile's)")
	f.StringVar(&pf.warrantFile, "warrant", "", "signed warrant `FILE` to attach instead of the profile's")
	f.BoolVar(&pf.noWarrant, "no-warrant", false, "attach no warrant, not even the profile's")
}

// request builds the analyst's request for sql from the flags.
func (pf *privacyFlags) request(cmd *cobra.Command, sql string) (analyst.Request, error) {
	req := analyst.Request{SQL: sql, Epsilon: pf.epsilon, NoWarrant: pf.noWarrant}
	if pf.warrantFile != "" && pf.noWarrant {
		return req, usagef("--warrant and --no-warrant exclude each other")
	}
	if cmd.Flags().Changed("collusion") {
		k := pf.collusion
		req.Collusion = &k
	}
	if pf.warrantFile != "" {
		b, err := os.ReadFile(pf.warrantFile)
		if err != nil {
			return req, fmt.Errorf("reading the --warrant file: %w", err)
		}
		req.Warrant = b
	}
	return req, nil
}

func queryCmd(o *options, stdout, stderr io.Writer) *cobra.Command {
	var pf privacyFlags
	var out cli.Format
	var purpose, basis string
	var quiet, dryRun bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   `query [flags] "SQL"`,
		Short: "Run a joint query and print its result",
		Long:  queryLong,
		Example: `  mpcq --profile demo/analyst query --purpose "fraud ring" --legal-basis CASE-2026-118 \
    "SELECT COUNT(*) FROM telecom JOIN bank USING (person_id) WHERE telecom.flagged_calls_30d > 20"
  mpcq --profile demo/analyst query --epsilon 0.5 -o json "SELECT SUM(bank.balance) FROM bank"`,
		Args: oneSQL,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := o.profileDir()
			if err != nil {
				return err
			}
			req, err := pf.request(cmd, args[0])
			if err != nil {
				return err
			}
			req.Purpose, req.LegalBasis = purpose, basis
			if dryRun || isExplain(req.SQL) {
				return runExplain(cmd.Context(), dir, req, out, stdout)
			}
			return runQuery(cmd.Context(), dir, req, queryOptions{out: out, quiet: quiet, timeout: timeout}, stdout, stderr)
		},
	}
	f := cmd.Flags()
	cli.AddOutputFlag(cmd, &out)
	f.StringVar(&purpose, "purpose", "", "why the query is asked (recorded, salted and hashed, on the ledger; default: the profile's)")
	f.StringVar(&basis, "legal-basis", "", "warrant or case reference (default: the profile's)")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress on stderr")
	f.DurationVar(&timeout, "timeout", 10*time.Minute, "give up (and cancel the query) after this long")
	f.BoolVar(&dryRun, "dry-run", false, "show the plan (as explain) and run nothing")
	pf.add(cmd)
	return cmd
}

type queryOptions struct {
	out     cli.Format
	quiet   bool
	timeout time.Duration
}

func runQuery(sigCtx context.Context, dir string, req analyst.Request, qo queryOptions, stdout, stderr io.Writer) error {
	s, err := connect(dir)
	if err != nil {
		return err
	}
	defer s.close()
	// sigCtx ends on Ctrl-C: the coordinator stops the query and records
	// the cancellation on the ledger as the analyst's, blaming no party.
	ctx, cancel := context.WithTimeout(sigCtx, qo.timeout)
	defer cancel()
	start := time.Now()
	progress := func(pr *pb.Progress) {
		if !qo.quiet {
			fmt.Fprintf(stderr, "[%5.1fs] %s: %s\n", time.Since(start).Seconds(), pr.Stage, pr.Detail)
		}
	}
	res, err := s.p.Query(ctx, s.client, req, progress)
	if err != nil {
		if sigCtx.Err() != nil {
			return errInterrupted
		}
		if ctx.Err() == context.DeadlineExceeded {
			return fmt.Errorf("no answer within --timeout %s; the query was cancelled (the ledger records it): %w", qo.timeout, err)
		}
		return s.explainErr(err)
	}
	if !qo.quiet {
		fmt.Fprintf(stderr, "[%5.1fs] done: query %s\n", time.Since(start).Seconds(), res.QueryID)
	}
	if qo.out == cli.JSON {
		return cli.WriteJSON(stdout, res)
	}
	return printResult(stdout, res)
}

// printResult prints a result as a table: exact values, or noisy values
// with their 95% intervals and a legend under the table.
func printResult(w io.Writer, res *analyst.Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight) // numbers line up
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

func explainCmd(o *options, stdout io.Writer) *cobra.Command {
	var pf privacyFlags
	var out cli.Format
	cmd := &cobra.Command{
		Use:   `explain [flags] "SQL"`,
		Short: "Show how a query would run and what it would cost, running nothing",
		Long: `Shows the plan per institution, the ciphertexts and bytes each party
sends, the depth, the worst cases against the modulus and an estimated
time; then the privacy: ε, collusion tolerance and warrant, each total's
noise and 95% half-width, and how every party's policy decides the query
with the ε budget left. Runs nothing and charges nothing (the same as
query --dry-run, or "EXPLAIN SELECT ...").

With -o json: {"plan": {"canonical", "order", "depth", "parties": [...],
"worst_cases", "estimate_s", "memory": [...], ...}, "privacy": ["line",
...]}.`,
		Example: `  mpcq --profile demo/analyst explain --epsilon 1 "SELECT COUNT(*), SUM(bank.balance) FROM bank"`,
		Args:    oneSQL,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := o.profileDir()
			if err != nil {
				return err
			}
			req, err := pf.request(cmd, args[0])
			if err != nil {
				return err
			}
			return runExplain(cmd.Context(), dir, req, out, stdout)
		},
	}
	cli.AddOutputFlag(cmd, &out)
	pf.add(cmd)
	return cmd
}

func isExplain(sql string) bool {
	f := strings.Fields(sql)
	return len(f) > 0 && strings.EqualFold(f[0], "explain")
}

func runExplain(ctx context.Context, dir string, req analyst.Request, out cli.Format, stdout io.Writer) error {
	s, err := connect(dir)
	if err != nil {
		return err
	}
	defer s.close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	e, err := s.p.Explain(ctx, s.client, req.SQL)
	if err != nil {
		return s.explainErr(err)
	}
	if isExplain(req.SQL) {
		// The privacy part plans the query itself, without EXPLAIN.
		req.SQL = strings.TrimSpace(req.SQL)[len("explain"):]
	}
	priv, err := s.p.ExplainPrivacy(ctx, s.client, req)
	if err != nil {
		return fmt.Errorf("privacy and policies: %w", s.explainErr(err))
	}
	if out == cli.JSON {
		return cli.WriteJSON(stdout, explainJSON{Plan: planOf(e), Privacy: privacyLines(priv)})
	}
	if _, err := fmt.Fprint(stdout, e.String()); err != nil {
		return err
	}
	_, err = fmt.Fprint(stdout, priv)
	return err
}

// privacyLines splits the privacy report into its lines, without the
// heading and the indentation.
func privacyLines(priv string) []string {
	lines := []string{}
	for _, l := range strings.Split(priv, "\n") {
		if l = strings.TrimSpace(l); l != "" && l != "Privacy:" {
			lines = append(lines, l)
		}
	}
	return lines
}

func statusCmd(o *options, stdout, stderr io.Writer) *cobra.Command {
	var out cli.Format
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Say whether the coordinator, every party and the ledger are ready",
		Long: `Asks the coordinator for the consortium's state: its phase, every party
(up, ready, rows), and the ledger's health. Exits 0 when the coordinator
and every party are up and ready and every party cosigns the ledger,
else 1 with the reason on stderr.

With -o json: the coordinator's status as JSON (the field names of
proto/mpcq.proto's ConsortiumStatus), printed whether or not it is ready.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := o.profileDir()
			if err != nil {
				return err
			}
			return runStatus(cmd.Context(), dir, out, stdout)
		},
	}
	cli.AddOutputFlag(cmd, &out)
	return cmd
}

func runStatus(ctx context.Context, dir string, out cli.Format, stdout io.Writer) error {
	s, err := connect(dir)
	if err != nil {
		return err
	}
	defer s.close()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	st, err := s.client.Status(ctx, &pb.StatusRequest{})
	if err != nil {
		return s.explainErr(err)
	}
	addr := s.p.Config.Coordinator
	w := stdout
	if out == cli.JSON {
		b, err := protojson.MarshalOptions{Multiline: true, UseProtoNames: true, EmitUnpopulated: true}.Marshal(st)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(stdout, "%s\n", b); err != nil {
			return err
		}
		w = io.Discard // the table below only decides the exit status
	}
	fmt.Fprintf(w, "coordinator %s: phase %s, parameter set %s, ceremony %s, epoch %s, %d entities\n",
		addr, st.Phase, st.ParamSet, orNone(st.CeremonyId), orNone(st.EpochId), st.Entities)
	if st.Detail != "" {
		fmt.Fprintf(w, "  %s: %s\n", st.Phase, st.Detail) // e.g. the alignment's progress and time left
	}
	var down []string
	for _, ps := range st.Parties {
		state := "up"
		if !ps.Up {
			state = "DOWN: " + ps.Error
			down = append(down, ps.Name)
		} else if !ps.Ready {
			state = "up, not ready"
		}
		fmt.Fprintf(w, "  party %-10s table %-10s rows %-9d %s\n", ps.Name, ps.Table, ps.Rows, state)
	}
	if st.Error != "" {
		fmt.Fprintf(w, "  last error: %s\n", st.Error)
	}
	healthy := printLedgerHealth(w, st.Ledger, time.Now())
	// Ready includes the ledger's health: set up but with a ledger that
	// cannot publish is not ready, for the ledger's reason.
	switch {
	case len(down) > 0 && !st.Ready:
		return fmt.Errorf("not ready: party %s is down (see above); ask its operator to check that its partyd is running and reachable from the coordinator", strings.Join(down, ", party "))
	case !st.Ready && st.Phase != "ready":
		return fmt.Errorf("not ready (phase %s)", st.Phase)
	case !healthy:
		return errors.New("not ready: the ledger cannot record queries (see above); no query can be committed until every party cosigns")
	case !st.Ready:
		return fmt.Errorf("not ready (phase %s): %s", st.Phase, orNone(st.Error))
	}
	fmt.Fprintln(w, "ready")
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

func schemaCmd(o *options, stdout io.Writer) *cobra.Command {
	var out cli.Format
	cmd := &cobra.Command{
		Use:   "schema",
		Short: "List the consortium's tables, columns, types, bounds and categories",
		Long: `Lists the consortium's tables, their columns, types, bounds and
categories, the parameter set, its plaintext modulus T (a sum whose worst
case could reach T is computed in digits, each below T, and recombined
exactly) and the number of aligned entities.

With -o json: {"tables": [{"name", "key", "columns": [{"name", "kind",
"min", "max", "categories"}]}], "param_set", "plaintext_modulus",
"entities"}.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := o.profileDir()
			if err != nil {
				return err
			}
			return runSchema(cmd.Context(), dir, out, stdout)
		},
	}
	cli.AddOutputFlag(cmd, &out)
	return cmd
}

// schemaJSON is the -o json form of the schema.
type schemaJSON struct {
	Tables           []schemaTable `json:"tables"`
	ParamSet         string        `json:"param_set"`
	PlaintextModulus uint64        `json:"plaintext_modulus"`
	Entities         uint64        `json:"entities"`
}

type schemaTable struct {
	Name    string         `json:"name"`
	Key     string         `json:"key"`
	Columns []schemaColumn `json:"columns"`
}

type schemaColumn struct {
	Name       string   `json:"name"`
	Kind       string   `json:"kind"`
	Min        *int64   `json:"min,omitempty"`
	Max        *int64   `json:"max,omitempty"`
	Categories []string `json:"categories,omitempty"`
}

func runSchema(ctx context.Context, dir string, out cli.Format, stdout io.Writer) error {
	s, err := connect(dir)
	if err != nil {
		return err
	}
	defer s.close()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	r, err := s.client.Schema(ctx, &pb.SchemaRequest{})
	if err != nil {
		return s.explainErr(err)
	}
	if out == cli.JSON {
		js := schemaJSON{Tables: []schemaTable{}, ParamSet: r.ParamSet, PlaintextModulus: r.PlaintextModulus, Entities: r.Entities}
		for _, t := range r.Tables {
			tt := schemaTable{Name: t.Name, Key: t.Key, Columns: []schemaColumn{}}
			for _, c := range t.Columns {
				cc := schemaColumn{Name: c.Name, Kind: c.Kind, Categories: c.Categories}
				if c.Kind == "int" {
					mn, mx := c.Min, c.Max
					cc.Min, cc.Max = &mn, &mx
				}
				tt.Columns = append(tt.Columns, cc)
			}
			js.Tables = append(js.Tables, tt)
		}
		return cli.WriteJSON(stdout, js)
	}
	tw := cli.NewTable(stdout)
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
	fmt.Fprintf(tw, "\nparameter set %s; plaintext modulus %d (larger sums are split into digits); %d aligned entities\n", r.ParamSet, r.PlaintextModulus, r.Entities)
	return tw.Flush()
}

func keygenCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "keygen",
		Short: "Make a new RLWE key pair in the profile",
		Long: `Makes a new RLWE key pair (analyst.sk, mode 0600, and analyst.pk) in the
profile directory, for the profile's parameter set (the default set when
the profile has no profile.json yet). Results of later queries are
encrypted to the new key.`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			dir, err := o.profileDir()
			if err != nil {
				return err
			}
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
		},
	}
}
