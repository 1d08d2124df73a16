// Package admin is the logic of mpcadm, the tool that onboards members of
// a consortium without the demo: the consortium CA, each member's key and
// certificate signing request (made where the key will live, so that no
// private key travels), the CA's signature, the ledger's signing key and
// the parties' cosigning keys, and complete daemon configs and client
// profiles. docs/operations.md walks through who runs what where.
//
// It writes files and checks that the files given to it belong together
// (a certificate and its key, a certificate and the CA, a party's peers);
// the formats are those of packages pki, party, coordinator,
// internal/analyst and internal/auditor. It is not a CA service: it keeps
// no database of issued certificates and has no revocation list.
package admin

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/mpcq/mpcq/pki"
)

// Names of the files mpcadm writes.
const (
	// CACertFile and CAKeyFile are the CA's certificate and private key
	// in the CA directory. The key never leaves the CA admin's machine.
	CACertFile = "ca.pem"
	CAKeyFile  = "ca.key"
	// KeyFile is a member's private key (0600), CertFile its
	// certificate; the same names as in analyst and auditor profiles.
	KeyFile  = "key.pem"
	CertFile = "cert.pem"
	// LedgerKeyFile is the coordinator's ledger signing key (0600),
	// LedgerPubFile its verifier key.
	LedgerKeyFile = "ledger.key"
	LedgerPubFile = "ledger.pub"
	// WitnessKeyFile is a party's ledger cosigning key (0600),
	// WitnessPubFile its verifier key.
	WitnessKeyFile = "witness.key"
	WitnessPubFile = "witness.pub"
	// ConsortiumFile describes the consortium to its clients (see
	// Consortium).
	ConsortiumFile = "consortium.json"
)

// ErrExists is wrapped when mpcadm would overwrite a private key or a CA:
// it never does.
var ErrExists = errors.New("admin: refusing to overwrite")

// ErrMismatch is wrapped when files given together do not belong
// together: a certificate and a key of different pairs, a certificate not
// issued by the CA, a certificate of another role or member.
var ErrMismatch = errors.New("admin: files do not belong together")

// ErrInput is wrapped when an argument is missing or malformed.
var ErrInput = errors.New("admin: invalid input")

// CSRFileName is the name of a member's certificate signing request file,
// e.g. party-bank.csr: named so that a CA admin receiving many can tell
// them apart.
func CSRFileName(role pki.Role, name string) string { return fmt.Sprintf("%s-%s.csr", role, name) }

// writeNewPrivate writes a private file (0600) that must not exist yet.
func writeNewPrivate(path string, data []byte) error {
	if err := mustNotExist(path); err != nil {
		return err
	}
	return pki.WritePrivate(path, data)
}

// mustNotExist refuses an existing path.
func mustNotExist(path string) error {
	_, err := os.Lstat(path)
	switch {
	case err == nil:
		return fmt.Errorf("%w: %s exists; mpcadm never overwrites a key or a CA: move it away first (to rotate a key see docs/operations.md)", ErrExists, path)
	case errors.Is(err, fs.ErrNotExist):
		return nil
	default:
		return fmt.Errorf("admin: checking %s: %w", path, err)
	}
}

// mkdir creates a directory for private files (0700).
func mkdir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("admin: creating directory: %w", err)
	}
	return nil
}

// InitCA creates the consortium CA in dir: CACertFile (0644, what every
// member trusts) and CAKeyFile (0600). It refuses a dir that already holds
// either.
func InitCA(dir, name string, now time.Time, validity time.Duration) (*pki.CA, error) {
	certPath, keyPath := filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)
	for _, p := range []string{certPath, keyPath} {
		if err := mustNotExist(p); err != nil {
			return nil, err
		}
	}
	ca, err := pki.NewCA(name, now, validity)
	if err != nil {
		return nil, err
	}
	if err := mkdir(dir); err != nil {
		return nil, err
	}
	if err := pki.WritePrivate(keyPath, ca.KeyPEM()); err != nil {
		return nil, err
	}
	if err := pki.WritePublic(certPath, ca.CertPEM()); err != nil {
		return nil, err
	}
	return ca, nil
}

// LoadCA loads the CA of a directory InitCA wrote.
func LoadCA(dir string) (*pki.CA, error) {
	ca, err := pki.LoadCAFiles(filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, fmt.Errorf("CA directory %s: %w", dir, err)
	}
	return ca, nil
}

// Request is what a member asks the CA for.
type Request struct {
	Role pki.Role
	Name string
	// Groups are an analyst's groups; only analysts may have groups.
	Groups []string
	// Hosts are the DNS names and IP addresses the member serves on:
	// parties and the coordinator need the ones others dial.
	Hosts []string
}

// NewCSR generates the member's Ed25519 key into dir/KeyFile (0600; an
// existing key is never overwritten) and a certificate signing request
// signed with it into dir/CSRFileName(role, name). It returns the
// request's path: that file, and only that file, goes to the CA admin.
func NewCSR(dir string, r Request) (string, error) {
	var opts []pki.IssueOption
	if len(r.Groups) > 0 {
		opts = append(opts, pki.WithGroups(r.Groups...))
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", fmt.Errorf("admin: generating a key: %w", err)
	}
	// The request is made (and checked) before anything is written.
	csr, err := pki.CreateCSR(key, r.Role, r.Name, r.Hosts, opts...)
	if err != nil {
		return "", err
	}
	keyPEM, err := pki.EncodePrivateKey(key)
	if err != nil {
		return "", err
	}
	keyPath, csrPath := filepath.Join(dir, KeyFile), filepath.Join(dir, CSRFileName(r.Role, r.Name))
	if err := mustNotExist(keyPath); err != nil {
		return "", err
	}
	if err := mkdir(dir); err != nil {
		return "", err
	}
	if err := writeNewPrivate(keyPath, keyPEM); err != nil {
		return "", err
	}
	if err := pki.WritePublic(csrPath, csr); err != nil {
		return "", err
	}
	return csrPath, nil
}

// Sign checks the request in csrFile and issues its certificate with the
// CA, valid from now for validity. It returns the certificate (PEM) and
// what it certifies.
func Sign(ca *pki.CA, csrFile string, now time.Time, validity time.Duration) ([]byte, pki.CSR, error) {
	b, err := os.ReadFile(csrFile)
	if err != nil {
		return nil, pki.CSR{}, fmt.Errorf("admin: reading the request: %w", err)
	}
	cert, c, err := ca.IssueCSR(b, now, validity)
	if err != nil {
		return nil, pki.CSR{}, fmt.Errorf("%s: %w", csrFile, err)
	}
	return cert, c, nil
}

// NewLedgerKey generates the ledger's note signing key for origin (the
// name in every checkpoint, e.g. "city-police-pilot-ledger") into
// dir/LedgerKeyFile (0600) and its verifier key into dir/LedgerPubFile,
// and returns the verifier key: it goes into every party's config and
// every auditor's profile.
func NewLedgerKey(dir, origin string) (string, error) {
	return newNoteKey(dir, origin, LedgerKeyFile, LedgerPubFile)
}

// NewWitnessKey generates a party's ledger cosigning key (named after the
// party) into dir/WitnessKeyFile (0600) and its verifier key into
// dir/WitnessPubFile, and returns the verifier key: it goes into the
// coordinator's config (witnesses) and every auditor's profile.
func NewWitnessKey(dir, party string) (string, error) {
	if !pki.ValidName(party) {
		return "", fmt.Errorf("%w: invalid party name %q; use 1-64 of a-z, 0-9, '.', '_', '-'", ErrInput, party)
	}
	return newNoteKey(dir, party, WitnessKeyFile, WitnessPubFile)
}

func newNoteKey(dir, name, keyFile, pubFile string) (string, error) {
	if name == "" || strings.ContainsAny(name, "+ \t\n") {
		return "", fmt.Errorf("%w: key name %q must be non-empty, without '+' or spaces", ErrInput, name)
	}
	keyPath := filepath.Join(dir, keyFile)
	if err := mustNotExist(keyPath); err != nil {
		return "", err
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		return "", fmt.Errorf("admin: generating the note key %q: %w", name, err)
	}
	if err := mkdir(dir); err != nil {
		return "", err
	}
	if err := writeNewPrivate(keyPath, []byte(skey+"\n")); err != nil {
		return "", err
	}
	if err := pki.WritePublic(filepath.Join(dir, pubFile), []byte(vkey+"\n")); err != nil {
		return "", err
	}
	return vkey, nil
}

// VerifierKey returns a note verifier key given either as itself
// (name+hash+key) or as the path of a file holding it (a .pub file
// NewLedgerKey or NewWitnessKey wrote).
func VerifierKey(arg string) (string, error) {
	v := strings.TrimSpace(arg)
	if _, err := note.NewVerifier(v); err == nil {
		return v, nil
	}
	b, err := os.ReadFile(arg)
	if err != nil {
		return "", fmt.Errorf("%w: %q is neither a verifier key (name+hash+key) nor a readable key file: %w", ErrInput, arg, err)
	}
	v = strings.TrimSpace(string(b))
	if _, err := note.NewVerifier(v); err != nil {
		return "", fmt.Errorf("%w: %s does not hold a verifier key: %w", ErrInput, arg, err)
	}
	return v, nil
}

// Member names a member's TLS files: the consortium CA's certificate, the
// member's certificate and its private key.
type Member struct {
	CA, Cert, Key string
}

// Check loads the member's files and checks that they belong together:
// the key is the certificate's, the certificate is valid under the CA at
// now and is of role (and, when name is not empty, of that name). It
// returns the certificate's identity and the files' contents.
func (m Member) Check(role pki.Role, name string, now time.Time) (id pki.Identity, caPEM, certPEM, keyPEM []byte, err error) {
	for _, f := range []struct{ flag, v string }{{"CA certificate", m.CA}, {"certificate", m.Cert}, {"key", m.Key}} {
		if f.v == "" {
			return pki.Identity{}, nil, nil, nil, fmt.Errorf("%w: no %s file given", ErrInput, f.flag)
		}
	}
	certPEM, keyPEM, err = pki.LoadKeyPair(m.Cert, m.Key)
	if err != nil {
		if errors.Is(err, pki.ErrBadPEM) {
			return pki.Identity{}, nil, nil, nil, fmt.Errorf("%w: %w (was the certificate signed from the request made with this key?)", ErrMismatch, err)
		}
		return pki.Identity{}, nil, nil, nil, err
	}
	caPEM, err = os.ReadFile(m.CA)
	if err != nil {
		return pki.Identity{}, nil, nil, nil, fmt.Errorf("admin: reading the CA certificate: %w", err)
	}
	id, err = pki.VerifyCertificate(certPEM, caPEM, now)
	if err != nil {
		return pki.Identity{}, nil, nil, nil, fmt.Errorf("%w: %s under %s: %w", ErrMismatch, m.Cert, m.CA, err)
	}
	if id.Role != role || (name != "" && id.Name != name) {
		want := fmt.Sprintf("%s://%s/%s", pki.IdentityScheme, role, name)
		if name == "" {
			want = fmt.Sprintf("a %s's", role)
		}
		return pki.Identity{}, nil, nil, nil, fmt.Errorf("%w: %s is the certificate of %s, want %s", ErrMismatch, m.Cert, id, want)
	}
	return id, caPEM, certPEM, keyPEM, nil
}

// abs makes a path absolute (the daemons read paths as written, relative
// to their working directory); empty stays empty.
func abs(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	a, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("admin: path %s: %w", p, err)
	}
	return a, nil
}
