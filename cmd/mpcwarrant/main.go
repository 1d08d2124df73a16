// Command mpcwarrant is the authorizer's tool (a judge or supervising
// prosecutor): it issues signed warrants that name a case, the analysts
// they cover and what they may query, revokes them, and shows (and
// verifies) warrant and revocation files. The logic is in package
// warrant; this command reads flags (with github.com/spf13/cobra: help,
// suggestions for mistyped commands, unknown flags refused, shell
// completion) and files.
package main

import (
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mpcq/mpcq/internal/cli"
	"github.com/mpcq/mpcq/pki"
	"github.com/mpcq/mpcq/warrant"
)

const rootLong = `mpcwarrant issues signed warrants that name a case, the analysts they
cover and what they may query (tables, columns, exactness, number of
queries, privacy budget), revokes them, and shows and verifies warrant and
revocation files.

The profile directory (--profile) holds the authorizer's certificate
(cert.pem, role authorizer), its private key (key.pem, mode 0600) and the
consortium CA certificate (ca.pem), laid out like an analyst's profile.

issue and revoke write the file named by -o/--out; show prints, as a
table or with -o json as one JSON document on stdout.

Exit status:
  0    success (and --help)
  1    the command failed, or show's verification failed
  2    usage error: unknown command or flag, missing flag, bad argument`

func main() {
	if cli.WantsVersion(os.Args[1:]) {
		fmt.Println(cli.Version("mpcwarrant"))
		return
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the command: it returns the exit status, 0 on success (and for
// --help), 1 when the command failed and 2 on a usage error.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr, time.Now)
	root.SetArgs(args)
	cmd, err := root, cli.SingleDash(root, args)
	if err != nil {
		err = usageError{Err: err}
	} else {
		cmd, err = root.ExecuteC()
	}
	switch {
	case err == nil:
		return 0
	case cli.IsUsage(err):
		fmt.Fprintln(stderr, "mpcwarrant:", strings.TrimRight(err.Error(), "\n"))
		name := "mpcwarrant"
		if cmd != nil {
			name = cmd.CommandPath()
		}
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", name)
		return 2
	default:
		fmt.Fprintln(stderr, "mpcwarrant:", err)
		return 1
	}
}

// usageError is a mistake in the command line (exit status 2).
type usageError = cli.UsageError

func usagef(format string, args ...any) error { return usageError{Err: fmt.Errorf(format, args...)} }

func newRoot(stdout, stderr io.Writer, now func() time.Time) *cobra.Command {
	var version bool
	root := &cobra.Command{
		Use:   "mpcwarrant",
		Short: "Issue, revoke and show warrants for mpcq queries (the authorizer's tool)",
		Long:  rootLong,
		Example: `  mpcwarrant issue --profile judge --case CASE-2026/042 \
    --analyst mpcq://analyst/alice --tables bank,telecom \
    --columns bank.balance,telecom.flagged_calls_30d --epsilon 2.5 \
    --max-queries 20 --expires 720h -o alice-042.warrant
  mpcwarrant show --ca judge/ca.pem alice-042.warrant
  mpcwarrant show --ca judge/ca.pem -o json alice-042.warrant
  mpcwarrant revoke --profile judge --warrant alice-042.warrant --reason "case closed" -o alice-042.revocation`,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if version {
				_, err := fmt.Fprintln(stdout, cli.Version("mpcwarrant"))
				return err
			}
			return cmd.Help()
		},
	}
	root.Flags().BoolVar(&version, "version", false, "print the version and commit, and exit")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{Err: err} })
	root.AddCommand(issueCmd(stdout, now), revokeCmd(stdout, now), showCmd(stdout, now))
	cli.StrictHelp(root, func(err error) error { return usageError{Err: err} })
	(&cli.OutSwitch{Stdout: stdout, Stderr: stderr}).Install(root)
	cli.StrictCompletion(root) // after Install: cobra binds the scripts' writer now
	return root
}

// required marks flags required, for the check before the command runs.
func required(cmd *cobra.Command, names ...string) {
	for _, n := range names {
		if err := cmd.MarkFlagRequired(n); err != nil {
			panic(fmt.Sprintf("mpcwarrant: flag %s of %s: %v", n, cmd.Name(), err)) // a programming error
		}
	}
}

// noArgs is the argument check of a command that takes only flags.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) != 0 {
		return usagef("%s takes no arguments, got %q", cmd.Name(), args)
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func issueCmd(stdout io.Writer, now func() time.Time) *cobra.Command {
	var profile, caseRef, tables, columns, epsilon, notBefore, out string
	var analysts []string
	var exact bool
	var maxQueries uint64
	var expires time.Duration
	cmd := &cobra.Command{
		Use:   "issue --profile DIR --case REF --analyst URI [--analyst URI ...] --tables T1,T2 [flags] --expires DURATION -o FILE",
		Short: "Sign a warrant for a case, naming the analysts it covers and what it allows",
		Long: `Signs a warrant with the profile's authorizer key and writes it to -o
(mode 0600: the case reference is confidential). The analysts keep the
file and attach it to their queries; parties verify it and check every
query against its scope, its query limit and its privacy budget. Prints
the warrant's id and hash (the SHA-256 of the file, which the ledger
commits).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case expires <= 0:
				return usagef("--expires %s: want a positive duration such as 720h", expires)
			case maxQueries > uint64(^uint32(0)):
				return usagef("--max-queries %d is too large (at most %d)", maxQueries, ^uint32(0))
			}
			eps, err := warrant.ParseEpsilon(epsilon)
			if err != nil {
				return usagef("--epsilon: %v", err)
			}
			t := now()
			start := t
			if notBefore != "" {
				if start, err = time.Parse(time.RFC3339, notBefore); err != nil {
					return usagef("--not-before %q is not an RFC3339 time such as 2026-12-01T09:00:00Z", notBefore)
				}
			}
			p, err := loadProfile(profile, t)
			if err != nil {
				return err
			}
			if _, err := os.Lstat(out); err == nil {
				return fmt.Errorf("%s exists; choose another -o file or remove it", out)
			}
			w, err := warrant.New(caseRef, analysts, warrant.Scope{
				Tables: splitList(tables), Columns: splitList(columns), Exact: exact,
				MaxQueries: uint32(maxQueries), EpsilonMilli: eps,
			}, start, start.Add(expires))
			if err != nil {
				return err
			}
			s, err := warrant.Sign(w, p.key, p.certPEM)
			if err != nil {
				return err
			}
			if _, err := warrant.VerifySignature(s, p.caPEM, t); err != nil {
				return fmt.Errorf("the warrant just signed does not verify: %w", err)
			}
			// The case reference is confidential: the file is 0600.
			if err := pki.WritePrivate(out, s.Marshal()); err != nil {
				return err
			}
			h := warrant.Hash(s)
			fmt.Fprintf(stdout, "warrant %s for case %q written to %s\nhash %s\n", w.ID, w.Case, out, hex.EncodeToString(h[:]))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&profile, "profile", "", "authorizer profile `DIR` holding cert.pem, key.pem and ca.pem")
	f.StringVar(&caseRef, "case", "", "case reference `REF` the warrant is for (no control characters)")
	f.StringArrayVar(&analysts, "analyst", nil, "analyst `URI` mpcq://analyst/NAME the warrant covers (repeat for several)")
	f.StringVar(&tables, "tables", "", "comma-separated `TABLE,...` queries may read")
	f.StringVar(&columns, "columns", "", "comma-separated `TABLE.COLUMN,...` queries may read (default: every column of --tables)")
	f.BoolVar(&exact, "exact", false, "allow exact (noise-free) results")
	f.Uint64Var(&maxQueries, "max-queries", 0, "the number `N` of queries the warrant allows (0: unlimited)")
	f.StringVar(&epsilon, "epsilon", "0", "total privacy budget `E` (ε) of the warrant's queries, a decimal with at most 3 decimals (0: unlimited)")
	f.DurationVar(&expires, "expires", 0, "how long the warrant is valid from --not-before, e.g. 720h")
	f.StringVar(&notBefore, "not-before", "", "`RFC3339` time from which the warrant is valid (default: now)")
	f.StringVarP(&out, "out", "o", "", "warrant `FILE` to write (must not exist)")
	_ = cmd.MarkFlagDirname("profile")
	required(cmd, "profile", "case", "analyst", "tables", "expires", "out")
	return cmd
}

func revokeCmd(stdout io.Writer, now func() time.Time) *cobra.Command {
	var profile, warrantFile, reason, out string
	cmd := &cobra.Command{
		Use:   "revoke --profile DIR --warrant FILE --reason TEXT -o FILE",
		Short: "Sign the revocation of a warrant you issued",
		Long: `Signs the revocation of a warrant you issued (whether or not it is still
valid) and writes it to -o. Give it to the consortium: parties refuse the
warrant from then on.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t := now()
			p, err := loadProfile(profile, t)
			if err != nil {
				return err
			}
			s, err := readSigned(warrantFile)
			if err != nil {
				return err
			}
			v, err := warrant.VerifySignature(s, p.caPEM, t)
			if err != nil {
				return fmt.Errorf("%s: %w", warrantFile, err)
			}
			if v.Authorizer.Name != p.id.Name {
				return fmt.Errorf("%s was issued by %s; only its authorizer may revoke it, and you are %s", warrantFile, v.Authorizer, p.id)
			}
			if _, err := os.Lstat(out); err == nil {
				return fmt.Errorf("%s exists; choose another -o file or remove it", out)
			}
			sr, err := warrant.SignRevocation(warrant.Revocation{WarrantHash: v.Hash, Time: t.Unix(), Reason: reason}, p.key, p.certPEM)
			if err != nil {
				return err
			}
			if err := pki.WritePrivate(out, sr.Marshal()); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "revocation of warrant %s (case %q) written to %s\n", v.Warrant.ID, v.Warrant.Case, out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&profile, "profile", "", "authorizer profile `DIR` holding cert.pem, key.pem and ca.pem")
	f.StringVar(&warrantFile, "warrant", "", "warrant `FILE` to revoke; you must be its authorizer")
	f.StringVar(&reason, "reason", "", "`TEXT` saying why the warrant is revoked (no control characters)")
	f.StringVarP(&out, "out", "o", "", "revocation `FILE` to write (must not exist)")
	_ = cmd.MarkFlagDirname("profile")
	required(cmd, "profile", "warrant", "reason", "out")
	return cmd
}

func showCmd(stdout io.Writer, now func() time.Time) *cobra.Command {
	var caFile, warrantFile, at string
	var out cli.Format
	cmd := &cobra.Command{
		Use:   "show [--ca FILE [--warrant FILE]] [--at RFC3339] [-o table|json] FILE",
		Short: "Print a warrant or revocation file; verify it with --ca",
		Long: `Prints a warrant or revocation file. With --ca it also verifies it: a
warrant's signature, its authorizer's certificate and its validity window;
a revocation's signature and that it is signed by the authorizer of the
warrant given with --warrant. Exits 1 if verification fails (with -o json
the document is printed first, with "verified": false and the reason in
"verify_error").

With -o json, a warrant: {"kind": "warrant", "id", "case", "analysts",
"tables", "columns", "exact", "max_queries", "epsilon", "not_before",
"expires", "signed_by", "hash", "verified", "verify_error"}; a revocation:
{"kind": "revocation", "warrant_hash", "revoked_at", "reason",
"signed_by", "verified", "verify_error"}. "verified" is null without --ca;
max_queries and epsilon are 0 when unlimited.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("show takes exactly one warrant or revocation file, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			t := now()
			if at != "" {
				var err error
				if t, err = time.Parse(time.RFC3339, at); err != nil {
					return usagef("--at %q is not an RFC3339 time", at)
				}
			}
			b, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			var caPEM []byte
			if caFile != "" {
				if caPEM, err = os.ReadFile(caFile); err != nil {
					return err
				}
			}
			var sh shown
			if strings.HasPrefix(string(b), "-----BEGIN "+warrant.BlockRevocation+"-----") {
				sh, err = showRevocation(b, caPEM, warrantFile, t)
			} else if warrantFile != "" {
				return usagef("--warrant is for showing a revocation; %s is not one", args[0])
			} else {
				sh, err = showWarrant(args[0], b, caPEM, t)
			}
			if sh == nil { // nothing to show: the file is not one
				return err
			}
			if perr := sh.print(stdout, out); perr != nil {
				return perr
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&caFile, "ca", "", "consortium CA certificate `FILE`: verify the file under it (exit 1 if it does not verify)")
	f.StringVar(&warrantFile, "warrant", "", "the revoked warrant `FILE`, to verify a revocation (with --ca)")
	f.StringVar(&at, "at", "", "verify at this `RFC3339` time instead of now")
	cli.AddOutputFlag(cmd, &out)
	return cmd
}

// shown is what show prints: a table of rows or, with -o json, one JSON
// document.
type shown interface {
	print(w io.Writer, f cli.Format) error
}

// warrantShown is a warrant as show prints it.
type warrantShown struct {
	Kind        string   `json:"kind"` // "warrant"
	ID          string   `json:"id"`
	Case        string   `json:"case"`
	Analysts    []string `json:"analysts"`
	Tables      []string `json:"tables"`
	Columns     []string `json:"columns"` // empty: every column of the tables
	Exact       bool     `json:"exact"`
	MaxQueries  uint32   `json:"max_queries"` // 0: unlimited
	Epsilon     string   `json:"epsilon"`     // "0": unlimited
	NotBefore   string   `json:"not_before"`
	Expires     string   `json:"expires"`
	SignedBy    string   `json:"signed_by"`
	Hash        string   `json:"hash"`
	Verified    *bool    `json:"verified"` // nil: not verified (no --ca)
	VerifyError string   `json:"verify_error,omitempty"`
	verifiedMsg string
}

func (s *warrantShown) print(w io.Writer, f cli.Format) error {
	if f == cli.JSON {
		return cli.WriteJSON(w, s)
	}
	tw := newTable(w)
	tw.row("warrant", s.ID)
	tw.row("case", s.Case)
	tw.row("analysts", strings.Join(s.Analysts, ", "))
	tw.row("tables", strings.Join(s.Tables, ", "))
	if len(s.Columns) == 0 {
		tw.row("columns", "every column of the tables")
	} else {
		tw.row("columns", strings.Join(s.Columns, ", "))
	}
	tw.row("exact results", yesNo(s.Exact))
	tw.row("max queries", unlimited(uint64(s.MaxQueries), strconv.FormatUint(uint64(s.MaxQueries), 10)))
	eps := s.Epsilon
	if eps == "0" {
		eps = "unlimited"
	}
	tw.row("privacy budget ε", eps)
	tw.row("valid from", s.NotBefore)
	tw.row("expires", s.Expires)
	tw.row("signed by", s.SignedBy)
	tw.row("hash", s.Hash)
	tw.row("verified", s.verifiedMsg)
	return nil
}

func showWarrant(name string, b, caPEM []byte, now time.Time) (shown, error) {
	s, err := warrant.ParseSigned(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	w, _ := warrant.Parse(s.Warrant) // ParseSigned parsed it
	h := warrant.Hash(s)
	sh := &warrantShown{Kind: "warrant", ID: w.ID, Case: w.Case, Analysts: w.Analysts, Tables: w.Scope.Tables,
		Columns: w.Scope.Columns, Exact: w.Scope.Exact, MaxQueries: w.Scope.MaxQueries,
		Epsilon: warrant.FormatEpsilon(w.Scope.EpsilonMilli), NotBefore: rfc3339(w.NotBefore), Expires: rfc3339(w.Expiry),
		SignedBy: signer(s.Certificate), Hash: hex.EncodeToString(h[:])}
	if sh.Columns == nil {
		sh.Columns = []string{}
	}
	if caPEM == nil {
		sh.verifiedMsg = "no (give --ca to verify)"
		return sh, nil
	}
	_, err = warrant.Verify(s, caPEM, now)
	sh.setVerified(err, "yes: signed by a consortium authorizer, valid at "+now.UTC().Format(time.RFC3339))
	return sh, err
}

func (s *warrantShown) setVerified(err error, yes string) {
	ok := err == nil
	s.Verified = &ok
	s.verifiedMsg = yes
	if err != nil {
		s.VerifyError, s.verifiedMsg = err.Error(), "NO"
	}
}

// revocationShown is a revocation as show prints it.
type revocationShown struct {
	Kind        string `json:"kind"` // "revocation"
	WarrantHash string `json:"warrant_hash"`
	RevokedAt   string `json:"revoked_at"`
	Reason      string `json:"reason"`
	SignedBy    string `json:"signed_by"`
	Verified    *bool  `json:"verified"` // nil: not verified (no --ca)
	VerifyError string `json:"verify_error,omitempty"`
	verifiedMsg string
}

func (s *revocationShown) print(w io.Writer, f cli.Format) error {
	if f == cli.JSON {
		return cli.WriteJSON(w, s)
	}
	tw := newTable(w)
	tw.row("revocation of", "warrant hash "+s.WarrantHash)
	tw.row("revoked at", s.RevokedAt)
	tw.row("reason", s.Reason)
	tw.row("signed by", s.SignedBy)
	tw.row("verified", s.verifiedMsg)
	return nil
}

func showRevocation(b, caPEM []byte, warrantFile string, now time.Time) (shown, error) {
	sr, err := warrant.ParseSignedRevocation(b)
	if err != nil {
		return nil, err
	}
	if caPEM != nil && warrantFile == "" {
		return nil, usagef("to verify a revocation give the revoked warrant too: --warrant FILE")
	}
	r, _ := warrant.ParseRevocation(sr.Revocation) // ParseSignedRevocation parsed it
	sh := &revocationShown{Kind: "revocation", WarrantHash: hex.EncodeToString(r.WarrantHash[:]), RevokedAt: rfc3339(r.Time),
		Reason: r.Reason, SignedBy: signer(sr.Certificate)}
	if caPEM == nil {
		sh.verifiedMsg = "no (give --ca and --warrant to verify)"
		return sh, nil
	}
	s, err := readSigned(warrantFile)
	if err != nil {
		return nil, err
	}
	v, err := warrant.VerifySignature(s, caPEM, now)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", warrantFile, err)
	}
	_, err = warrant.VerifyRevocation(sr, caPEM, v, now)
	ok := err == nil
	sh.Verified = &ok
	sh.verifiedMsg = fmt.Sprintf("yes: warrant %s (case %q) revoked by its authorizer", v.Warrant.ID, v.Warrant.Case)
	if err != nil {
		sh.VerifyError, sh.verifiedMsg = err.Error(), "NO"
	}
	return sh, err
}

func rfc3339(unix int64) string { return time.Unix(unix, 0).UTC().Format(time.RFC3339) }

// signer names a file's signing certificate, unverified.
func signer(certDER []byte) string {
	cert, err := x509.ParseCertificate(certDER)
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	id, err := pki.IdentityOf(cert)
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return id.String()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func unlimited(v uint64, s string) string {
	if v == 0 {
		return "unlimited"
	}
	return s
}

// table prints aligned "name  value" rows.
type table struct{ w io.Writer }

func newTable(w io.Writer) table { return table{w} }

func (t table) row(name, value string) { fmt.Fprintf(t.w, "%-17s %s\n", name, value) }

func readSigned(path string) (warrant.Signed, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return warrant.Signed{}, err
	}
	s, err := warrant.ParseSigned(b)
	if err != nil {
		return warrant.Signed{}, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}
