package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mpcq/mpcq/internal/auditor"
	"github.com/mpcq/mpcq/internal/cli"
	"github.com/mpcq/mpcq/ledger/archive"
	"github.com/mpcq/mpcq/ledger/audit"
	"github.com/mpcq/mpcq/ledger/entry"
	"github.com/mpcq/mpcq/policy"
)

// verifyTimeout bounds a command that reads and verifies the whole log.
const verifyTimeout = 10 * time.Minute

// source is where a command reads the log and the query archive.
type source struct {
	logDir, archive string
	noArchive       bool
}

// addSource gives cmd --log-dir, --archive and --no-archive.
func addSource(cmd *cobra.Command, s *source) {
	f := cmd.Flags()
	f.StringVar(&s.logDir, "log-dir", "", "read the log from a copy in `DIR` instead of from the coordinator")
	f.StringVar(&s.archive, "archive", "", "read the query archive from a copy (archive.db) in `FILE` instead of from the coordinator: openings, warrants, cases")
	f.BoolVar(&s.noArchive, "no-archive", false, "do not read the query archive: openings and warrants are not checked, and budget knows no cases")
	_ = cmd.MarkFlagDirname("log-dir")
	_ = cmd.MarkFlagFilename("archive", "db")
	cmd.MarkFlagsMutuallyExclusive("archive", "no-archive")
}

// verified is a log that verified, with what the commands print from it.
type verified struct {
	rep  audit.Report
	rows []auditor.QueryRow
	all  []auditor.Logged
	// prev is the checkpoint this profile verified before (nil the first
	// time, and for a copy, which is not compared).
	prev     *auditor.State
	copy     bool
	openings audit.Openings
}

// notVerified is a ledger that does not verify: exit status 1. Its
// message names the file and entry at fault, ledger text escaped.
type notVerified struct {
	msg string
	// path and index are the file and entry at fault, when known.
	path  string
	index *uint64
	err   error
}

func (e *notVerified) Error() string { return e.msg }
func (e *notVerified) Unwrap() error { return e.err }

// verifyLog verifies the whole log (and the archive's openings unless
// src says otherwise); online, it also checks that the log extends the
// checkpoint the profile verified last, which it then remembers. The
// returned close releases an archive copy.
func verifyLog(ctx context.Context, p *auditor.Profile, src source) (v *verified, closeArchive func(), err error) {
	closeArchive = func() {}
	fetch, err := p.Fetcher(ctx, src.logDir)
	if err != nil {
		return nil, closeArchive, err
	}
	v = &verified{copy: src.logDir != ""}
	switch {
	case src.archive != "":
		a, err := archive.Open(src.archive, 5*time.Second)
		if err != nil {
			return nil, closeArchive, fmt.Errorf("query archive %s: %w", src.archive, err)
		}
		closeArchive = func() { _ = a.Close() }
		v.openings = a
	case !src.noArchive:
		if v.openings, err = p.Archive(ctx); err != nil {
			return nil, closeArchive, fmt.Errorf("%w (use --no-archive to verify the log alone)", err)
		}
	}
	if v.rep, v.rows, v.all, err = p.VerifyEntries(ctx, fetch, v.openings); err != nil {
		nv := &notVerified{msg: "ledger does NOT verify: " + auditor.Escape(err.Error()), err: err}
		var ae *audit.Error
		if errors.As(err, &ae) {
			where := ae.Path
			nv.path = ae.Path
			if ae.HasIndex {
				where = fmt.Sprintf("%s, entry index %d", ae.Path, ae.Index)
				nv.index = &ae.Index
			}
			nv.msg = fmt.Sprintf("ledger does NOT verify at %s: %s", auditor.Escape(where), auditor.Escape(ae.Err.Error()))
		}
		return nil, closeArchive, nv
	}
	// Online, the log must extend the checkpoint this profile verified
	// last time (a rollback or a fork fails), which it then remembers.
	// A copy (--log-dir) may be an older backup: it is checked alone.
	if !v.copy {
		if v.prev, err = p.Remember(ctx, fetch, v.rep, time.Now()); err != nil {
			return nil, closeArchive, &notVerified{err: err, msg: fmt.Sprintf("ledger does NOT verify against the checkpoint this profile verified before (%s): %s",
				auditor.StateFile, auditor.Escape(err.Error()))}
		}
	}
	return v, closeArchive, nil
}

// withLog loads the profile, verifies the log and calls do with it.
func (a *app) withLog(cmd *cobra.Command, src source, do func(*verified) error) error {
	p, err := a.profile()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), verifyTimeout)
	defer cancel()
	v, closeArchive, err := verifyLog(ctx, p, src)
	defer closeArchive()
	if err != nil {
		return err
	}
	return do(v)
}

// verifySummary is verify's JSON output.
type verifySummary struct {
	Verified bool `json:"verified"`
	// Error, Path and Index say why the ledger does not verify.
	Error string  `json:"error,omitempty"`
	Path  string  `json:"path,omitempty"`
	Index *uint64 `json:"index,omitempty"`

	Origin string `json:"origin,omitempty"`
	Size   uint64 `json:"size,omitempty"`
	Root   string `json:"root,omitempty"`
	// Consistency is "copy" (--log-dir: not compared), "first" (first
	// online verification from this profile) or "extends" (extends
	// Previous, the checkpoint this profile verified before).
	Consistency     string            `json:"consistency,omitempty"`
	Previous        *checkpointJSON   `json:"previous,omitempty"`
	Cosignatures    []cosignatureJSON `json:"cosignatures,omitempty"`
	Counts          map[string]uint64 `json:"counts,omitempty"`
	OpeningsChecked int               `json:"openings_checked"`
	WarrantsChecked int               `json:"warrants_checked"`
	// OpenQueries are QUERY IDs with neither RESULT nor FAILURE yet.
	OpenQueries []string `json:"open_queries,omitempty"`
	Warnings    []string `json:"warnings,omitempty"`
}

type checkpointJSON struct {
	Size       uint64    `json:"size"`
	Root       string    `json:"root"`
	VerifiedAt time.Time `json:"verified_at"`
}

type cosignatureJSON struct {
	Name string    `json:"name"`
	Time time.Time `json:"time"`
}

func verifyCmd(a *app) *cobra.Command {
	var src source
	var out cli.Format
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Verify the whole ledger without trusting the coordinator",
		Long: `Recomputes the whole log from its entries and checks the checkpoint
signature and every party's cosignature, that every RESULT follows its
QUERY and that every archived opening matches its commitment. Also
verifies every POLICY entry (signed by the party it names, certificate
from the consortium CA in DIR/ca.pem, canonical content, increasing
versions), every REVOCATION (signed by the warrant's authorizer) and
every archived warrant (hash and signature).

Online, it also checks that the log extends the checkpoint this profile
verified last (kept in DIR/ledger-state.json): a rollback or a fork
fails. A copy (--log-dir) is checked alone.

Exits 1 naming the first bad file and entry index when the ledger does
not verify; with -o json, stdout then holds {"verified": false, ...}.`,
		Example: `  mpcaudit --profile DIR verify
  mpcaudit --profile DIR verify --log-dir COPY --archive COPY/archive.db -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := out
			var err error
			err = a.withLog(cmd, src, func(v *verified) error {
				if f == cli.JSON {
					return cli.WriteJSONLine(a.stdout, summarize(v))
				}
				printVerified(a.stdout, v)
				return nil
			})
			var nv *notVerified
			if f == cli.JSON && errors.As(err, &nv) {
				_ = cli.WriteJSONLine(a.stdout, verifySummary{Error: nv.msg, Path: nv.path, Index: nv.index})
			}
			return err
		},
	}
	addSource(cmd, &src)
	cli.AddOutputFlagOnly(cmd, &out)
	return cmd
}

// summarize is verify's JSON document for a log that verified.
func summarize(v *verified) verifySummary {
	s := verifySummary{Verified: true, Origin: v.rep.Origin, Size: v.rep.Size, Root: hex.EncodeToString(v.rep.Root),
		Counts: map[string]uint64{}, OpeningsChecked: v.rep.OpeningsChecked, WarrantsChecked: v.rep.WarrantsChecked,
		OpenQueries: v.rep.OpenQueries, Warnings: v.rep.Warnings, Cosignatures: []cosignatureJSON{}}
	switch {
	case v.copy:
		s.Consistency = "copy"
	case v.prev == nil:
		s.Consistency = "first"
	default:
		s.Consistency = "extends"
		s.Previous = &checkpointJSON{Size: v.prev.Size, Root: hex.EncodeToString(v.prev.Root), VerifiedAt: v.prev.VerifiedAt.UTC()}
	}
	for _, c := range v.rep.Cosignatures {
		s.Cosignatures = append(s.Cosignatures, cosignatureJSON{Name: c.Name, Time: c.Time.UTC()})
	}
	for _, t := range entry.Types() {
		s.Counts[t.String()] = v.rep.Counts[t]
	}
	return s
}

// printVerified prints verify's summary as text, ledger text escaped.
func printVerified(w io.Writer, v *verified) {
	rep := v.rep
	fmt.Fprintf(w, "ledger %s verifies: %d entries, root %x\n", auditor.Escape(rep.Origin), rep.Size, rep.Root)
	switch {
	case v.copy:
		fmt.Fprintf(w, "  a copy: not compared with the checkpoint this profile verified before\n")
	case v.prev == nil:
		fmt.Fprintf(w, "  first online verification from this profile: checkpoint remembered in %s\n", auditor.StateFile)
	default:
		fmt.Fprintf(w, "  extends the checkpoint this profile verified before: %s\n", v.prev)
	}
	for _, c := range rep.Cosignatures {
		fmt.Fprintf(w, "  cosigned by %s at %s\n", auditor.Escape(c.Name), c.Time.UTC().Format(time.RFC3339))
	}
	for _, t := range entry.Types() {
		fmt.Fprintf(w, "  %-8s %d\n", t, rep.Counts[t])
	}
	fmt.Fprintf(w, "  openings checked: %d\n", rep.OpeningsChecked)
	fmt.Fprintf(w, "  warrants checked: %d\n", rep.WarrantsChecked)
	for _, id := range rep.OpenQueries {
		fmt.Fprintf(w, "  open: QUERY %s has neither RESULT nor FAILURE yet (running, or recorded as interrupted when the coordinator restarts)\n", auditor.Escape(id))
	}
	for _, warn := range rep.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", auditor.Escape(warn))
	}
}

func showCmd(a *app) *cobra.Command {
	var src source
	var out cli.Format
	var analyst, caseRef, since, until, status string
	cmd := &cobra.Command{
		Use:   "show",
		Short: "List the queries asked, then the POLICY and REVOCATION entries",
		Long: `Lists the queries: time, query ID, analyst, purpose, legal basis, ε
("exact" for a noise-free query), warrant hash, case, status, parties,
failure reason and SQL; then the POLICY and REVOCATION entries. Text
from the ledger and the archive is printed with control characters
escaped. With -o json, the queries as one JSON array.`,
		Example: `  mpcaudit --profile DIR show --analyst mpcq://analyst/alice --since 2026-11-01
  mpcaudit --profile DIR show --status failed -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := out
			var err error
			filter := auditor.RowFilter{Analyst: analyst, Case: caseRef, Status: status}
			if filter.Since, err = auditor.ParseTime(since); err != nil {
				return usagef("--since: %w", err)
			}
			if filter.Until, err = auditor.ParseTime(until); err != nil {
				return usagef("--until: %w", err)
			}
			if err := filter.Validate(); err != nil {
				return usagef("show: %w", err)
			}
			return a.withLog(cmd, src, func(v *verified) error {
				rows := auditor.FilterRows(v.rows, filter)
				if f == cli.JSON {
					if rows == nil {
						rows = []auditor.QueryRow{}
					}
					return cli.WriteJSONLine(a.stdout, rows)
				}
				printRows(a.stdout, rows, v.all)
				return nil
			})
		},
	}
	addSource(cmd, &src)
	fl := cmd.Flags()
	fl.StringVar(&analyst, "analyst", "", "only the queries of the analyst with identity `URI` (mpcq://analyst/NAME)")
	fl.StringVar(&caseRef, "case", "", "only the queries of the case `REF` (the warrant's case reference)")
	fl.StringVar(&since, "since", "", "only queries at or after this `TIME`, RFC 3339 or a date 2006-01-02")
	fl.StringVar(&until, "until", "", "only queries before this `TIME`, RFC 3339 or a date 2006-01-02")
	fl.StringVar(&status, "status", "", "only queries with this `STATUS`: committed, answered or failed")
	_ = cmd.RegisterFlagCompletionFunc("status",
		cobra.FixedCompletions([]string{"committed", "answered", "failed"}, cobra.ShellCompDirectiveNoFileComp))
	cli.AddOutputFlag(cmd, &out)
	return cmd
}

// printRows prints show's table, ledger text escaped, then the POLICY
// and REVOCATION entries of all.
func printRows(w io.Writer, rows []auditor.QueryRow, all []auditor.Logged) {
	tw := cli.NewTable(w)
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
			fmt.Fprintf(w, "entry %d: %s\n", l.Index, describe(l.Entry))
		}
	}
}

func policiesCmd(a *app) *cobra.Command {
	var src source
	var out cli.Format
	var party string
	var content bool
	cmd := &cobra.Command{
		Use:   "policies",
		Short: "Each party's policy versions as logged",
		Long: `Lists each party's policy versions as logged: party, version, ledger
index and SHA-256 of the canonical policy; with --show, also each
version's canonical policy (escaped in the table).`,
		Example: `  mpcaudit --profile DIR policies --party bank --show`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := out
			return a.withLog(cmd, src, func(v *verified) error {
				return printPolicies(a.stdout, auditor.Policies(v.all, party, content), f)
			})
		},
	}
	addSource(cmd, &src)
	cmd.Flags().StringVar(&party, "party", "", "only this `PARTY`'s policy versions")
	cmd.Flags().BoolVar(&content, "show", false, "also print each version's canonical policy")
	cli.AddOutputFlag(cmd, &out)
	return cmd
}

func budgetCmd(a *app) *cobra.Command {
	var src source
	var out cli.Format
	var analyst, caseRef, atFlag string
	cmd := &cobra.Command{
		Use:   "budget",
		Short: "The ε each analyst and case spent with each party, recomputed from the log",
		Long: `Recomputes from the log the ε each analyst and each case spent with each
party in the party's current budget window: spent (queries with a
RESULT), limit and remaining under the policy in force, and "possibly
spent" (queries with neither RESULT nor FAILURE). Cases come from the
archived warrants: with --no-archive, no case is known.`,
		Example: `  mpcaudit --profile DIR budget --analyst mpcq://analyst/alice
  mpcaudit --profile DIR budget --case CASE-7 --at 2026-11-30T12:00:00Z -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := out
			var err error
			at := time.Now()
			if atFlag != "" {
				if at, err = time.Parse(time.RFC3339, atFlag); err != nil {
					return usagef("--at %q: want an RFC 3339 time such as 2026-11-30T12:00:00Z: %w", atFlag, err)
				}
			}
			return a.withLog(cmd, src, func(v *verified) error {
				var recs audit.Openings
				if v.openings != nil {
					recs = v.openings
				}
				return printBudget(a.stdout, auditor.Budget(v.all, recs, at, auditor.BudgetFilter{Analyst: analyst, Case: caseRef}), f)
			})
		},
	}
	addSource(cmd, &src)
	fl := cmd.Flags()
	fl.StringVar(&analyst, "analyst", "", "only the analyst with identity `URI` (mpcq://analyst/NAME), listed even if it spent nothing, and only the cases of its queries")
	fl.StringVar(&caseRef, "case", "", "only the case `REF` (the warrant's case reference), listed even if nothing was spent")
	fl.StringVar(&atFlag, "at", "", "compute the budget as of `TIME` (RFC 3339) instead of now: the window ends then, and the policy in force is the last one logged before the first query dated after it")
	cli.AddOutputFlag(cmd, &out)
	return cmd
}

// proveResult is prove's JSON output.
type proveResult struct {
	QueryID string `json:"query_id"`
	Receipt string `json:"receipt"`
}

func proveCmd(a *app) *cobra.Command {
	var logDir, path string
	var out cli.Format
	var unusedArchive string
	var unusedNoArchive bool
	cmd := &cobra.Command{
		Use:   "prove QUERY_ID",
		Short: "Write a query's receipt (C2SP tlog-proof), checkable offline",
		Long: `Writes the receipt of the query's QUERY entry: a C2SP tlog-proof with the
entry, its inclusion proof and the checkpoint cosigned by every party.
Anyone with the profile's keys checks it offline (check-receipt).`,
		Example: `  mpcaudit --profile DIR prove q-1234 --out q-1234.receipt`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := out
			p, err := a.profile()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), verifyTimeout)
			defer cancel()
			fetch, err := p.Fetcher(ctx, logDir)
			if err != nil {
				return err
			}
			rec, err := p.Prove(ctx, fetch, args[0])
			if err != nil {
				return err
			}
			if path == "" {
				path = args[0] + ".receipt"
			}
			if err := os.WriteFile(path, rec, 0o644); err != nil {
				return err
			}
			if f == cli.JSON {
				return cli.WriteJSONLine(a.stdout, proveResult{QueryID: args[0], Receipt: path})
			}
			fmt.Fprintf(a.stdout, "receipt for %s written to %s\n", auditor.Escape(args[0]), path)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&logDir, "log-dir", "", "read the log from a copy in `DIR` instead of from the coordinator")
	fl.StringVar(&path, "out", "", "receipt `FILE` to write (default QUERY_ID.receipt)")
	_ = cmd.MarkFlagDirname("log-dir")
	// prove never read the archive; these were accepted and ignored.
	fl.StringVar(&unusedArchive, "archive", "", "")
	fl.BoolVar(&unusedNoArchive, "no-archive", false, "")
	_ = fl.MarkDeprecated("archive", "prove does not read the query archive")
	_ = fl.MarkDeprecated("no-archive", "prove does not read the query archive")
	cli.AddOutputFlagOnly(cmd, &out)
	return cmd
}

// receiptResult is check-receipt's JSON output.
type receiptResult struct {
	Verified bool   `json:"verified"`
	Error    string `json:"error,omitempty"`
	Index    uint64 `json:"index,omitempty"`
	Type     string `json:"type,omitempty"`
	QueryID  string `json:"query_id,omitempty"`
	Entry    string `json:"entry,omitempty"`
	Origin   string `json:"origin,omitempty"`
	Size     uint64 `json:"size,omitempty"`
}

func checkReceiptCmd(a *app) *cobra.Command {
	var out cli.Format
	cmd := &cobra.Command{
		Use:   "check-receipt FILE",
		Short: "Verify a receipt offline with the profile's keys",
		Long: `Verifies a receipt (mpcaudit prove, or the console's download) offline:
the entry's inclusion proof in a checkpoint signed by the log and
cosigned by every party of the profile. Exits 1 if it does not verify;
with -o json, stdout then holds {"verified": false, ...}.`,
		Example: `  mpcaudit --profile DIR check-receipt q-1234.receipt`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := out
			p, err := a.profile()
			if err != nil {
				return err
			}
			b, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			r, err := p.CheckReceipt(b)
			if err != nil {
				err = fmt.Errorf("receipt %s does not verify: %s", args[0], auditor.Escape(err.Error()))
				if f == cli.JSON {
					_ = cli.WriteJSONLine(a.stdout, receiptResult{Error: err.Error()})
				}
				return err
			}
			if f == cli.JSON {
				res := receiptResult{Verified: true, Index: r.Index, Type: r.Entry.Type().String(), Entry: describe(r.Entry),
					Origin: r.Checkpoint.Origin, Size: r.Checkpoint.Size}
				if q, ok := r.Entry.(entry.Query); ok {
					res.QueryID = q.QueryID
				}
				return cli.WriteJSONLine(a.stdout, res)
			}
			fmt.Fprintf(a.stdout, "receipt OK: entry %d (%s) is in the log %s of size %d, cosigned by every party\n",
				r.Index, describe(r.Entry), auditor.Escape(r.Checkpoint.Origin), r.Checkpoint.Size)
			return nil
		},
	}
	cli.AddOutputFlagOnly(cmd, &out)
	return cmd
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
func printPolicies(w io.Writer, versions []auditor.PolicyVersion, f cli.Format) error {
	if f == cli.JSON {
		if versions == nil {
			versions = []auditor.PolicyVersion{}
		}
		return cli.WriteJSONLine(w, versions)
	}
	if len(versions) == 0 {
		fmt.Fprintln(w, "no POLICY entry in the ledger")
		return nil
	}
	tw := cli.NewTable(w)
	fmt.Fprintln(tw, "PARTY\tVERSION\tINDEX\tHASH")
	for _, v := range versions {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", auditor.Escape(v.Party), v.Version, v.Index, v.Hash)
		if v.Content != "" {
			_ = tw.Flush()
			fmt.Fprintf(w, "  %s\n", auditor.Escape(v.Content))
		}
	}
	return tw.Flush()
}

// printBudget prints a budget report as a table, or as JSON.
func printBudget(w io.Writer, rep auditor.BudgetReport, f cli.Format) error {
	if f == cli.JSON {
		if rep.Parties == nil {
			rep.Parties = []auditor.PartyBudget{}
		}
		return cli.WriteJSONLine(w, rep)
	}
	fmt.Fprintf(w, "ε budgets at %s (charged: queries with a RESULT, at their QUERY time)\n", rep.At.Format(time.RFC3339))
	if len(rep.Parties) == 0 {
		fmt.Fprintln(w, "no POLICY entry in force: no budget to report")
	}
	tw := cli.NewTable(w)
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
	return nil
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
