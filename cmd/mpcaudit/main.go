// Command mpcaudit is for compliance staff: it verifies the traceability
// ledger without trusting the coordinator, lists the queries asked (who,
// when, why, on what legal basis, with what outcome), and writes and checks
// per-query receipts that verify offline.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mpcq/mpcq/internal/auditor"
	"github.com/mpcq/mpcq/internal/cli"
	"github.com/mpcq/mpcq/internal/console"
	"github.com/mpcq/mpcq/ledger/archive"
	"github.com/mpcq/mpcq/ledger/audit"
	"github.com/mpcq/mpcq/ledger/entry"
	"github.com/mpcq/mpcq/policy"
)

const usage = `Usage: mpcaudit --profile DIR COMMAND [flags] [args]

Commands:
  verify              recompute the whole log from its entries, check the
                      checkpoint signature and every party's cosignature,
                      that every RESULT follows its QUERY and that every
                      archived opening matches its commitment; exit 1 naming
                      the first bad file and index. Online, also check that
                      the log extends the checkpoint this profile verified
                      last (kept in DIR/ledger-state.json): a rollback or a
                      fork fails
                      Also verifies every POLICY entry (signed by the
                      party it names, certificate from the consortium CA in
                      DIR/ca.pem, canonical content, increasing versions),
                      every REVOCATION (signed by the warrant's authorizer)
                      and every archived warrant (hash and signature)
  show                list the queries: time, analyst, purpose, legal basis,
                      ε ("exact" for noise-free), warrant hash, query,
                      status, parties (--json for JSON), then the POLICY and
                      REVOCATION entries; text from the ledger is printed
                      with control characters escaped
  policies            each party's policy versions as logged: ledger index,
                      version, SHA-256 of the canonical policy
  budget              the ε each analyst and each case spent with each party
                      in the party's current budget window, recomputed from
                      the log: spent (queries with a RESULT), limit and
                      remaining under the policy in force, and "possibly
                      spent" (queries with neither RESULT nor FAILURE)
  prove QUERY_ID      write the query's receipt (C2SP tlog-proof) to --out
  check-receipt FILE  verify a receipt offline with the profile's keys
  serve               a web console on --listen (loopback): verifies the
                      log before it shows anything and again every
                      --interval; timeline with filters, query pages with
                      receipts, per analyst and per case charts and
                      pattern flags, policies, ceremonies and epochs; a
                      failure shows in red on every page until restart

Every command but check-receipt verifies the whole log first.

Flags of verify, show, policies, budget and prove:
  --log-dir PATH   read a copy of the log directory instead of the coordinator
  --archive PATH   read a copy of the query archive (archive.db) for the
                   openings, warrants and (budget) the cases of queries
  --no-archive     do not check openings at all (budget then knows no cases)
  --json           JSON output (show, policies, budget)

Flags of show (also --analyst, --case):
  --since T, --until T  only queries at or after T, before T (RFC 3339 or
                   a date 2006-01-02)
  --status S       only committed, answered or failed queries

Flags of serve (also --log-dir, --archive, --no-archive):
  --listen ADDR    loopback address to serve on (default 127.0.0.1:8740)
  --interval D     time between verifications (default 5s)
  --burst N, --burst-window D  flag N queries by one analyst within D
                   (default 5 within 10m)

Flags of policies:
  --party NAME     only this party's policy versions
  --show           also print each version's canonical policy (escaped)

Flags of budget:
  --analyst URI    only this analyst (mpcq://analyst/NAME), listed even if
                   it spent nothing, and only the cases of its queries
  --case REF       only this case reference, listed even if nothing was spent
  --at RFC3339     compute the budget as of this time instead of now: the
                   window ends then, and the policy in force is the last one
                   logged before the first query dated after it
`

func main() {
	if cli.WantsVersion(os.Args[1:]) {
		fmt.Println(cli.Version("mpcaudit"))
		return
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mpcaudit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	profileDir := fs.String("profile", os.Getenv("MPCAUDIT_PROFILE"), "auditor profile directory (or $MPCAUDIT_PROFILE)")
	fs.Usage = func() { fmt.Fprint(stderr, usage, "\nGlobal flags:\n"); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 || *profileDir == "" {
		fs.Usage()
		return 2
	}
	p, err := auditor.Load(*profileDir)
	if err != nil {
		fmt.Fprintln(stderr, "mpcaudit:", err)
		return 1
	}
	cmd, rest := fs.Arg(0), fs.Args()[1:]
	sub := flag.NewFlagSet(cmd, flag.ContinueOnError)
	sub.SetOutput(stderr)
	logDir := sub.String("log-dir", "", "read a copy of the log directory instead of the coordinator")
	noArchive := sub.Bool("no-archive", false, "do not fetch the query archive from the coordinator")
	archivePath := sub.String("archive", "", "read a copy of the query archive (archive.db) instead of the coordinator's")
	asJSON := sub.Bool("json", false, "JSON output (show, policies, budget)")
	party := sub.String("party", "", "only this party's policy versions (policies)")
	showContent := sub.Bool("show", false, "print each policy version's canonical content (policies)")
	analyst := sub.String("analyst", "", "only this analyst's spending, an identity URI mpcq://analyst/NAME (budget)")
	caseRef := sub.String("case", "", "only this case's spending (budget)")
	atFlag := sub.String("at", "", "RFC 3339 time to compute the budget at instead of now (budget)")
	since := sub.String("since", "", "only queries at or after this time, RFC 3339 or 2006-01-02 (show)")
	until := sub.String("until", "", "only queries before this time, RFC 3339 or 2006-01-02 (show)")
	statusFlag := sub.String("status", "", "only queries with this status: committed, answered, failed (show)")
	listen := sub.String("listen", "127.0.0.1:8740", "loopback address to serve the console on (serve)")
	interval := sub.Duration("interval", 5*time.Second, "time between verifications (serve)")
	burst := sub.Int("burst", console.DefaultThresholds.BurstCount, "flag this many queries by one analyst... (serve)")
	burstWindow := sub.Duration("burst-window", console.DefaultThresholds.BurstWindow, "...within this time (serve)")
	sub.Usage = func() { fmt.Fprint(stderr, usage, "\nFlags of ", cmd, ":\n"); sub.PrintDefaults() }
	out := sub.String("out", "", "receipt file (prove); default QUERY_ID.receipt")
	// Flags may come before or after the positional argument.
	if err := cli.ParseInterspersed(sub, rest); err != nil {
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	switch cmd {
	case "verify", "show", "prove", "policies", "budget":
	case "serve":
		return serve(p, serveFlags{listen: *listen, interval: *interval, logDir: *logDir, archive: *archivePath, noArchive: *noArchive,
			th: console.Thresholds{BurstCount: *burst, BurstWindow: *burstWindow}}, stderr)
	case "check-receipt":
		if sub.NArg() != 1 {
			fmt.Fprintln(stderr, "mpcaudit: check-receipt takes one FILE")
			return 2
		}
		b, err := os.ReadFile(sub.Arg(0))
		if err != nil {
			fmt.Fprintln(stderr, "mpcaudit:", err)
			return 1
		}
		r, err := p.CheckReceipt(b)
		if err != nil {
			fmt.Fprintf(stderr, "mpcaudit: receipt %s does not verify: %s\n", sub.Arg(0), auditor.Escape(err.Error()))
			return 1
		}
		fmt.Fprintf(stdout, "receipt OK: entry %d (%s) is in the log %s of size %d, cosigned by every party\n",
			r.Index, describe(r.Entry), r.Checkpoint.Origin, r.Checkpoint.Size)
		return 0
	default:
		fmt.Fprintf(stderr, "mpcaudit: unknown command %q\n\n", cmd)
		fs.Usage()
		return 2
	}
	fetch, err := p.Fetcher(ctx, *logDir)
	if err != nil {
		fmt.Fprintln(stderr, "mpcaudit:", err)
		return 1
	}
	var openings audit.Openings
	if *archivePath != "" && cmd != "prove" {
		a, err := archive.Open(*archivePath, 5*time.Second)
		if err != nil {
			fmt.Fprintln(stderr, "mpcaudit: query archive:", err)
			return 1
		}
		defer a.Close()
		openings = a
	} else if !*noArchive && cmd != "prove" {
		if openings, err = p.Archive(ctx); err != nil {
			fmt.Fprintf(stderr, "mpcaudit: %v (use --no-archive to verify the log alone)\n", err)
			return 1
		}
	}
	if cmd == "prove" {
		if sub.NArg() != 1 {
			fmt.Fprintln(stderr, "mpcaudit: prove takes one QUERY_ID")
			return 2
		}
		rec, err := p.Prove(ctx, fetch, sub.Arg(0))
		if err != nil {
			fmt.Fprintln(stderr, "mpcaudit:", err)
			return 1
		}
		path := *out
		if path == "" {
			path = sub.Arg(0) + ".receipt"
		}
		if err := os.WriteFile(path, rec, 0o644); err != nil {
			fmt.Fprintln(stderr, "mpcaudit:", err)
			return 1
		}
		fmt.Fprintf(stdout, "receipt for %s written to %s\n", sub.Arg(0), path)
		return 0
	}
	at := time.Now()
	if *atFlag != "" {
		if at, err = time.Parse(time.RFC3339, *atFlag); err != nil {
			fmt.Fprintf(stderr, "mpcaudit: --at %q: want an RFC 3339 time such as 2026-11-30T12:00:00Z: %v\n", *atFlag, err)
			return 2
		}
	}
	rep, rows, all, err := p.VerifyEntries(ctx, fetch, openings)
	if err != nil {
		var ae *audit.Error
		if errors.As(err, &ae) {
			where := ae.Path
			if ae.HasIndex {
				where = fmt.Sprintf("%s, entry index %d", ae.Path, ae.Index)
			}
			fmt.Fprintf(stderr, "mpcaudit: ledger does NOT verify at %s: %s\n", auditor.Escape(where), auditor.Escape(ae.Err.Error()))
		} else {
			fmt.Fprintf(stderr, "mpcaudit: ledger does NOT verify: %s\n", auditor.Escape(err.Error()))
		}
		return 1
	}
	// Online, the log must extend the checkpoint this profile verified
	// last time (a rollback or a fork fails), which it then remembers.
	// A copy (--log-dir) may be an older backup: it is checked alone.
	var prev *auditor.State
	if *logDir == "" {
		if prev, err = p.Remember(ctx, fetch, rep, time.Now()); err != nil {
			fmt.Fprintf(stderr, "mpcaudit: ledger does NOT verify against the checkpoint this profile verified before (%s): %s\n",
				auditor.StateFile, auditor.Escape(err.Error()))
			return 1
		}
	}
	switch cmd {
	case "show":
		filter := auditor.RowFilter{Analyst: *analyst, Case: *caseRef, Status: *statusFlag}
		if filter.Since, err = auditor.ParseTime(*since); err == nil {
			filter.Until, err = auditor.ParseTime(*until)
		}
		if err == nil {
			err = filter.Validate()
		}
		if err != nil {
			fmt.Fprintln(stderr, "mpcaudit: show:", err)
			return 2
		}
		rows = auditor.FilterRows(rows, filter)
		if *asJSON {
			if rows == nil {
				rows = []auditor.QueryRow{}
			}
			_ = json.NewEncoder(stdout).Encode(rows)
			return 0
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tQUERY\tANALYST\tPURPOSE\tLEGAL BASIS\tε\tWARRANT\tCASE\tSTATUS\tPARTIES\tREASON\tSQL")
		for _, r := range rows {
			r = auditor.EscapeRow(r) // ledger and archive text may hold control characters
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Time, r.QueryID, r.Analyst, r.Purpose, r.LegalBasis,
				r.Epsilon, prefix(r.Warrant), dash(r.Case), r.Status, strings.Join(r.Parties, ","), dash(r.Reason), r.Query)
		}
		_ = tw.Flush()
		for _, l := range all {
			switch l.Entry.(type) {
			case entry.Policy, entry.Revocation:
				fmt.Fprintf(stdout, "entry %d: %s\n", l.Index, describe(l.Entry))
			}
		}
		return 0
	case "policies":
		return printPolicies(stdout, auditor.Policies(all, *party, *showContent), *asJSON)
	case "budget":
		var recs audit.Openings
		if openings != nil {
			recs = openings
		}
		return printBudget(stdout, auditor.Budget(all, recs, at, auditor.BudgetFilter{Analyst: *analyst, Case: *caseRef}), *asJSON)
	}
	fmt.Fprintf(stdout, "ledger %s verifies: %d entries, root %x\n", auditor.Escape(rep.Origin), rep.Size, rep.Root)
	switch {
	case *logDir != "":
		fmt.Fprintf(stdout, "  a copy: not compared with the checkpoint this profile verified before\n")
	case prev == nil:
		fmt.Fprintf(stdout, "  first online verification from this profile: checkpoint remembered in %s\n", auditor.StateFile)
	default:
		fmt.Fprintf(stdout, "  extends the checkpoint this profile verified before: %s\n", prev)
	}
	for _, c := range rep.Cosignatures {
		fmt.Fprintf(stdout, "  cosigned by %s at %s\n", auditor.Escape(c.Name), c.Time.UTC().Format(time.RFC3339))
	}
	for _, t := range entry.Types() {
		fmt.Fprintf(stdout, "  %-8s %d\n", t, rep.Counts[t])
	}
	fmt.Fprintf(stdout, "  openings checked: %d\n", rep.OpeningsChecked)
	fmt.Fprintf(stdout, "  warrants checked: %d\n", rep.WarrantsChecked)
	for _, id := range rep.OpenQueries {
		fmt.Fprintf(stdout, "  open: QUERY %s has neither RESULT nor FAILURE yet (running, or recorded as interrupted when the coordinator restarts)\n", auditor.Escape(id))
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(stdout, "  warning: %s\n", auditor.Escape(w))
	}
	return 0
}

func describe(e entry.Entry) string {
	switch v := e.(type) {
	case entry.Query:
		s := fmt.Sprintf("QUERY %s by %s at %s, ε %s", auditor.Escape(v.QueryID), auditor.Escape(v.Analyst),
			time.Unix(v.Time, 0).UTC().Format(time.RFC3339), auditor.Epsilon(v.EpsilonMilli))
		if v.Collusion != 0 {
			s += fmt.Sprintf(" (k=%d)", v.Collusion)
		}
		if v.WarrantHash != (entry.Hash{}) {
			s += fmt.Sprintf(", warrant %x", v.WarrantHash[:8])
		}
		return s
	case entry.Policy:
		return fmt.Sprintf("POLICY of party %s, version %d, hash %x", auditor.Escape(v.Party), v.Version, v.PolicyHash[:8])
	case entry.Revocation:
		return fmt.Sprintf("REVOCATION of warrant %x", v.WarrantHash[:8])
	case entry.Result:
		if v.PackedHash != (entry.Hash{}) {
			return fmt.Sprintf("RESULT %s (decrypted packed output %x)", auditor.Escape(v.QueryID), v.PackedHash[:8])
		}
		return fmt.Sprintf("RESULT %s", auditor.Escape(v.QueryID))
	default:
		return e.Type().String()
	}
}

// dash is s, or "-" for nothing.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// prefix shortens a hex hash for a table column ("-" for none).
func prefix(h string) string {
	if h == "" {
		return "-"
	}
	if len(h) > 16 {
		return h[:16]
	}
	return h
}

// printPolicies prints the policy versions as a table (with --show, each
// version's canonical content under it) or as JSON.
func printPolicies(w io.Writer, versions []auditor.PolicyVersion, asJSON bool) int {
	if asJSON {
		_ = json.NewEncoder(w).Encode(versions)
		return 0
	}
	if len(versions) == 0 {
		fmt.Fprintln(w, "no POLICY entry in the ledger")
		return 0
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PARTY\tVERSION\tINDEX\tHASH")
	for _, v := range versions {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", auditor.Escape(v.Party), v.Version, v.Index, v.Hash)
		if v.Content != "" {
			_ = tw.Flush()
			fmt.Fprintf(w, "  %s\n", auditor.Escape(v.Content))
		}
	}
	_ = tw.Flush()
	return 0
}

// printBudget prints a budget report as a table, or as JSON.
func printBudget(w io.Writer, rep auditor.BudgetReport, asJSON bool) int {
	if asJSON {
		_ = json.NewEncoder(w).Encode(rep)
		return 0
	}
	fmt.Fprintf(w, "ε budgets at %s (charged: queries with a RESULT, at their QUERY time)\n", rep.At.Format(time.RFC3339))
	if len(rep.Parties) == 0 {
		fmt.Fprintln(w, "no POLICY entry in force: no budget to report")
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, pb := range rep.Parties {
		window := "no limit"
		if pb.Period != "" {
			window = fmt.Sprintf("window %s, since %s", pb.Period, pb.WindowStart.Format(time.RFC3339))
		}
		fmt.Fprintf(tw, "party %s, policy version %d (entry %d), %s\n", auditor.Escape(pb.Party), pb.PolicyVersion, pb.PolicyIndex, window)
		fmt.Fprintln(tw, "  \tWHO\tSPENT\tLIMIT\tREMAINING\tPOSSIBLY SPENT\tQUERIES")
		for _, group := range []struct {
			kind string
			rows []auditor.Spending
		}{{"analyst", pb.Analysts}, {"case", pb.Cases}} {
			for _, s := range group.rows {
				limit, remaining := "unlimited", "-"
				if s.Limited {
					limit, remaining = policy.FormatEpsilon(s.LimitMilli), policy.FormatEpsilon(s.RemainingMilli)
				}
				possibly := "-"
				if len(s.Possibly) > 0 {
					possibly = fmt.Sprintf("%s (%s)", policy.FormatEpsilon(s.PossiblyMilli), escapeList(s.Possibly))
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", group.kind, auditor.Escape(s.Who), policy.FormatEpsilon(s.SpentMilli),
					limit, remaining, possibly, escapeList(s.Queries))
			}
		}
	}
	_ = tw.Flush()
	for _, warn := range rep.Warnings {
		fmt.Fprintf(w, "warning: %s\n", auditor.Escape(warn))
	}
	return 0
}

// escapeList joins escaped query IDs ("-" for none).
func escapeList(ids []string) string {
	if len(ids) == 0 {
		return "-"
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = auditor.Escape(id)
	}
	return strings.Join(out, ",")
}
