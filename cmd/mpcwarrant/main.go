// Command mpcwarrant is the authorizer's tool (a judge or supervising
// prosecutor): it issues signed warrants that name a case, the analysts
// they cover and what they may query, revokes them, and shows (and
// verifies) warrant and revocation files. The logic is in package
// warrant; this command reads flags and files.
package main

import (
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mpcq/mpcq/internal/cli"
	"github.com/mpcq/mpcq/pki"
	"github.com/mpcq/mpcq/warrant"
)

const usage = `Usage: mpcwarrant COMMAND [flags]

Commands:
  issue    sign a warrant for a case, naming the analysts it covers and
           the tables, columns, exactness, number of queries and privacy
           budget it allows
  revoke   sign the revocation of a warrant you issued
  show     print a warrant or revocation file; verify it with --ca

Run mpcwarrant COMMAND --help for a command's flags.

The profile directory (--profile) holds the authorizer's certificate
(cert.pem, role authorizer), its private key (key.pem, mode 0600) and the
consortium CA certificate (ca.pem), laid out like an analyst's profile.

Example:
  mpcwarrant issue --profile judge --case CASE-2026/042 \
    --analyst mpcq://analyst/alice --tables bank,telecom \
    --columns bank.balance,telecom.flagged_calls_30d --epsilon 2.5 \
    --max-queries 20 --expires 720h -o alice-042.warrant
  mpcwarrant show --ca judge/ca.pem alice-042.warrant
  mpcwarrant revoke --profile judge --warrant alice-042.warrant --reason "case closed" -o alice-042.revocation
`

func main() {
	if cli.WantsVersion(os.Args[1:]) {
		fmt.Println(cli.Version("mpcwarrant"))
		return
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the command: it returns the exit status, 0 on success, 1 when
// the command failed and 2 on a usage error.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	case "issue":
		err = cmdIssue(rest, stdout, time.Now())
	case "revoke":
		err = cmdRevoke(rest, stdout, time.Now())
	case "show":
		err = cmdShow(rest, stdout, time.Now())
	default:
		fmt.Fprintf(stderr, "mpcwarrant: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintln(stderr, "mpcwarrant:", err)
		return 2
	default:
		fmt.Fprintln(stderr, "mpcwarrant:", err)
		return 1
	}
}

// usageError is a mistake in the command line (exit status 2).
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// descriptions say what each subcommand does, for its -help.
var descriptions = map[string]string{
	"issue": `Signs a warrant with the profile's authorizer key and writes it to -o
(mode 0600: the case reference is confidential). The analysts keep the
file and attach it to their queries; parties verify it and check every
query against its scope, its query limit and its privacy budget. Prints
the warrant's id and hash (the SHA-256 of the file, which the ledger
commits).`,
	"revoke": `Signs the revocation of a warrant you issued (whether or not it is still
valid) and writes it to -o. Give it to the consortium: parties refuse the
warrant from then on.`,
	"show": `Prints a warrant or revocation file. With --ca it also verifies it: a
warrant's signature, its authorizer's certificate and its validity window;
a revocation's signature and that it is signed by the authorizer of the
warrant given with --warrant. Exits 1 if verification fails.`,
}

// flagSet is a subcommand's flags and its synopsis.
type flagSet struct {
	*flag.FlagSet
	synopsis string
	stdout   io.Writer
}

// newFlagSet returns a subcommand's flag set. The flag package prints
// nothing itself: parse reports errors, and -help prints the synopsis and
// every flag to stdout.
func newFlagSet(name, synopsis string, stdout io.Writer) flagSet {
	synopsis += "\n\n" + descriptions[name]
	fs := flag.NewFlagSet("mpcwarrant "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return flagSet{FlagSet: fs, synopsis: synopsis, stdout: stdout}
}

// parse parses args (flags may follow positional arguments). On -help it
// prints the help and returns flag.ErrHelp; a bad flag is a usage error.
func (fs flagSet) parse(args []string) error {
	err := cli.ParseInterspersed(fs.FlagSet, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(fs.stdout, "Usage: mpcwarrant %s\n\nFlags:\n", fs.synopsis)
		fs.SetOutput(fs.stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
		return err
	}
	if err != nil {
		return usagef("%s: %v (see %s --help)", fs.Name(), err, fs.Name())
	}
	return nil
}

// listFlag is a repeatable flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error {
	*l = append(*l, s)
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

func cmdIssue(args []string, stdout io.Writer, now time.Time) error {
	fs := newFlagSet("issue", "issue --profile DIR --case REF --analyst URI [--analyst URI ...] --tables T1,T2 [flags] --expires DURATION -o FILE", stdout)
	profile := fs.String("profile", "", "authorizer profile `DIR` holding cert.pem, key.pem and ca.pem (required)")
	caseRef := fs.String("case", "", "case reference `REF` the warrant is for (required; no control characters)")
	var analysts listFlag
	fs.Var(&analysts, "analyst", "analyst `URI` mpcq://analyst/NAME the warrant covers (required; repeat for several)")
	tables := fs.String("tables", "", "comma-separated `TABLE,...` queries may read (required)")
	columns := fs.String("columns", "", "comma-separated `TABLE.COLUMN,...` queries may read (default: every column of --tables)")
	exact := fs.Bool("exact", false, "allow exact (noise-free) results")
	maxQueries := fs.Uint64("max-queries", 0, "the number `N` of queries the warrant allows (0: unlimited)")
	epsilon := fs.String("epsilon", "0", "total privacy budget `ε` of the warrant's queries, a decimal with at most 3 decimals (0: unlimited)")
	expires := fs.Duration("expires", 0, "how long the warrant is valid from --not-before, e.g. 720h (required)")
	notBefore := fs.String("not-before", "", "`RFC3339` time from which the warrant is valid (default: now)")
	out := fs.String("o", "", "warrant `FILE` to write (required; must not exist)")
	if err := fs.parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() != 0:
		return usagef("issue takes no arguments, got %q", fs.Args())
	case *profile == "" || *caseRef == "" || len(analysts) == 0 || *tables == "" || *expires == 0 || *out == "":
		return usagef("issue needs --profile, --case, --analyst, --tables, --expires and -o (see issue --help)")
	case *expires < 0:
		return usagef("--expires %s is negative", *expires)
	case *maxQueries > uint64(^uint32(0)):
		return usagef("--max-queries %d is too large (at most %d)", *maxQueries, ^uint32(0))
	}
	eps, err := warrant.ParseEpsilon(*epsilon)
	if err != nil {
		return usagef("--epsilon: %v", err)
	}
	start := now
	if *notBefore != "" {
		if start, err = time.Parse(time.RFC3339, *notBefore); err != nil {
			return usagef("--not-before %q is not an RFC3339 time such as 2026-12-01T09:00:00Z", *notBefore)
		}
	}
	p, err := loadProfile(*profile, now)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(*out); err == nil {
		return fmt.Errorf("%s exists; choose another -o file or remove it", *out)
	}
	w, err := warrant.New(*caseRef, analysts, warrant.Scope{
		Tables: splitList(*tables), Columns: splitList(*columns), Exact: *exact,
		MaxQueries: uint32(*maxQueries), EpsilonMilli: eps,
	}, start, start.Add(*expires))
	if err != nil {
		return err
	}
	s, err := warrant.Sign(w, p.key, p.certPEM)
	if err != nil {
		return err
	}
	if _, err := warrant.VerifySignature(s, p.caPEM, now); err != nil {
		return fmt.Errorf("the warrant just signed does not verify: %w", err)
	}
	// The case reference is confidential: the file is 0600.
	if err := pki.WritePrivate(*out, s.Marshal()); err != nil {
		return err
	}
	h := warrant.Hash(s)
	fmt.Fprintf(stdout, "warrant %s for case %q written to %s\nhash %s\n", w.ID, w.Case, *out, hex.EncodeToString(h[:]))
	return nil
}

func cmdRevoke(args []string, stdout io.Writer, now time.Time) error {
	fs := newFlagSet("revoke", "revoke --profile DIR --warrant FILE --reason TEXT -o FILE", stdout)
	profile := fs.String("profile", "", "authorizer profile `DIR` holding cert.pem, key.pem and ca.pem (required)")
	warrantFile := fs.String("warrant", "", "warrant `FILE` to revoke; you must be its authorizer (required)")
	reason := fs.String("reason", "", "`TEXT` saying why the warrant is revoked (required; no control characters)")
	out := fs.String("o", "", "revocation `FILE` to write (required; must not exist)")
	if err := fs.parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() != 0:
		return usagef("revoke takes no arguments, got %q", fs.Args())
	case *profile == "" || *warrantFile == "" || *reason == "" || *out == "":
		return usagef("revoke needs --profile, --warrant, --reason and -o (see revoke --help)")
	}
	p, err := loadProfile(*profile, now)
	if err != nil {
		return err
	}
	s, err := readSigned(*warrantFile)
	if err != nil {
		return err
	}
	v, err := warrant.VerifySignature(s, p.caPEM, now)
	if err != nil {
		return fmt.Errorf("%s: %w", *warrantFile, err)
	}
	if v.Authorizer.Name != p.id.Name {
		return fmt.Errorf("%s was issued by %s; only its authorizer may revoke it, and you are %s", *warrantFile, v.Authorizer, p.id)
	}
	if _, err := os.Lstat(*out); err == nil {
		return fmt.Errorf("%s exists; choose another -o file or remove it", *out)
	}
	sr, err := warrant.SignRevocation(warrant.Revocation{WarrantHash: v.Hash, Time: now.Unix(), Reason: *reason}, p.key, p.certPEM)
	if err != nil {
		return err
	}
	if err := pki.WritePrivate(*out, sr.Marshal()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "revocation of warrant %s (case %q) written to %s\n", v.Warrant.ID, v.Warrant.Case, *out)
	return nil
}

func cmdShow(args []string, stdout io.Writer, now time.Time) error {
	fs := newFlagSet("show", "show [--ca FILE [--warrant FILE]] [--at RFC3339] FILE", stdout)
	caFile := fs.String("ca", "", "consortium CA certificate `FILE`: verify the file under it (exit 1 if it does not verify)")
	warrantFile := fs.String("warrant", "", "the revoked warrant `FILE`, to verify a revocation (with --ca)")
	at := fs.String("at", "", "verify at this `RFC3339` time instead of now")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("show takes exactly one warrant or revocation file")
	}
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return usagef("--at %q is not an RFC3339 time", *at)
		}
		now = t
	}
	b, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	var caPEM []byte
	if *caFile != "" {
		if caPEM, err = os.ReadFile(*caFile); err != nil {
			return err
		}
	}
	if strings.HasPrefix(string(b), "-----BEGIN "+warrant.BlockRevocation+"-----") {
		return showRevocation(b, caPEM, *warrantFile, now, stdout)
	}
	if *warrantFile != "" {
		return usagef("--warrant is for showing a revocation; %s is not one", fs.Arg(0))
	}
	s, err := warrant.ParseSigned(b)
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	w, _ := warrant.Parse(s.Warrant) // ParseSigned parsed it
	tw := newTable(stdout)
	tw.row("warrant", w.ID)
	tw.row("case", w.Case)
	tw.row("analysts", strings.Join(w.Analysts, ", "))
	tw.row("tables", strings.Join(w.Scope.Tables, ", "))
	if len(w.Scope.Columns) == 0 {
		tw.row("columns", "every column of the tables")
	} else {
		tw.row("columns", strings.Join(w.Scope.Columns, ", "))
	}
	tw.row("exact results", yesNo(w.Scope.Exact))
	tw.row("max queries", unlimited(uint64(w.Scope.MaxQueries), strconv.FormatUint(uint64(w.Scope.MaxQueries), 10)))
	tw.row("privacy budget ε", unlimited(w.Scope.EpsilonMilli, warrant.FormatEpsilon(w.Scope.EpsilonMilli)))
	tw.row("valid from", time.Unix(w.NotBefore, 0).UTC().Format(time.RFC3339))
	tw.row("expires", time.Unix(w.Expiry, 0).UTC().Format(time.RFC3339))
	tw.row("signed by", signer(s.Certificate))
	h := warrant.Hash(s)
	tw.row("hash", hex.EncodeToString(h[:]))
	if caPEM == nil {
		tw.row("verified", "no (give --ca to verify)")
		return nil
	}
	if _, err := warrant.Verify(s, caPEM, now); err != nil {
		tw.row("verified", "NO")
		return err
	}
	tw.row("verified", "yes: signed by a consortium authorizer, valid at "+now.UTC().Format(time.RFC3339))
	return nil
}

func showRevocation(b, caPEM []byte, warrantFile string, now time.Time, stdout io.Writer) error {
	sr, err := warrant.ParseSignedRevocation(b)
	if err != nil {
		return err
	}
	r, _ := warrant.ParseRevocation(sr.Revocation) // ParseSignedRevocation parsed it
	tw := newTable(stdout)
	tw.row("revocation of", "warrant hash "+hex.EncodeToString(r.WarrantHash[:]))
	tw.row("revoked at", time.Unix(r.Time, 0).UTC().Format(time.RFC3339))
	tw.row("reason", r.Reason)
	tw.row("signed by", signer(sr.Certificate))
	if caPEM == nil {
		tw.row("verified", "no (give --ca and --warrant to verify)")
		return nil
	}
	if warrantFile == "" {
		return usagef("to verify a revocation give the revoked warrant too: --warrant FILE")
	}
	s, err := readSigned(warrantFile)
	if err != nil {
		return err
	}
	v, err := warrant.VerifySignature(s, caPEM, now)
	if err != nil {
		return fmt.Errorf("%s: %w", warrantFile, err)
	}
	if _, err := warrant.VerifyRevocation(sr, caPEM, v, now); err != nil {
		tw.row("verified", "NO")
		return err
	}
	tw.row("verified", fmt.Sprintf("yes: warrant %s (case %q) revoked by its authorizer", v.Warrant.ID, v.Warrant.Case))
	return nil
}

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
