package admin

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/mpcq/mpcq/coordinator"
	"github.com/mpcq/mpcq/internal/auditor"
	"github.com/mpcq/mpcq/mpc"
	"github.com/mpcq/mpcq/party"
	"github.com/mpcq/mpcq/pki"
	"github.com/mpcq/mpcq/policy"
)

// Policy templates a party's first policy file can start from
// (docs/policy.md).
const (
	// PolicyMinimal lets every analyst ask only noisy counts of the whole
	// population (no column in WHERE, aggregates or GROUP BY), at most
	// ε 1 each and ε 10 per analyst per day: enough to see the
	// consortium answer, nothing about any column until the institution
	// names columns and analysts. It is the default.
	PolicyMinimal = "minimal"
	// PolicyWarrant is the demo's: every analyst may use every column;
	// exact answers only under a warrant that allows them, noisy ones at
	// most ε 1 each and ε 10 per analyst (30 per case) per day.
	PolicyWarrant = "warrant"
)

// PolicyTemplates lists the policy templates, the default first.
func PolicyTemplates() []string { return []string{PolicyMinimal, PolicyWarrant} }

// PolicyTemplate returns the first policy (version 1) of party from a
// template.
func PolicyTemplate(template, partyName string) ([]byte, error) {
	var rule string
	switch template {
	case PolicyMinimal:
		rule = `{
      "name": "noisy-counts",
      "analysts": ["*"],
      "where": [],
      "aggregate": [],
      "group_by": [],
      "exact": "never",
      "max_epsilon": 1
    }`
	case PolicyWarrant:
		rule = `{
      "name": "warrant-or-noise",
      "analysts": ["*"],
      "where": ["*"],
      "aggregate": ["*"],
      "group_by": ["*"],
      "exact": "warrant",
      "max_epsilon": 1
    }`
	default:
		return nil, fmt.Errorf("%w: unknown policy template %q; templates are %v", ErrInput, template, PolicyTemplates())
	}
	b := fmt.Appendf(nil, `{
  "version": 1,
  "party": %q,
  "rules": [
    %s
  ],
  "budget": {"period": "24h", "per_analyst": 10, "per_case": 30}
}
`, partyName, rule)
	if _, err := policy.Parse(template+" template", b); err != nil {
		return nil, fmt.Errorf("admin: policy template %s: %w", template, err)
	}
	return b, nil
}

// PartyOptions is what a party's config is made of. Paths may be relative
// to the working directory; the config holds them absolute.
type PartyOptions struct {
	Name    string
	Listen  string
	DataDir string
	CSV     string
	Schema  string
	TLS     Member
	// Peers are the certificate files of every other party.
	Peers []string
	// WitnessKey is the party's cosigning key file (NewWitnessKey).
	WitnessKey string
	// LedgerPublicKey is the ledger's verifier key, or the file holding
	// it (NewLedgerKey's LedgerPubFile).
	LedgerPublicKey string
	// Policy is the policy file. When it does not exist, it is written
	// from PolicyTemplate (PolicyMinimal if empty); when it does, it is
	// checked and kept.
	Policy         string
	PolicyTemplate string
	Workers        int
	AllowInsecure  bool
}

// PartyConfig checks the options (the party's certificate and key, its
// peers' certificates, its witness key, the ledger key, the policy file)
// and returns the party's config with defaults, as partyd will read it.
// It writes the policy file when it does not exist yet and reports whether
// it did.
func PartyConfig(o PartyOptions, now time.Time) (party.Config, bool, error) {
	fail := func(err error) (party.Config, bool, error) {
		return party.Config{}, false, fmt.Errorf("party %s: %w", o.Name, err)
	}
	if !pki.ValidName(o.Name) {
		return fail(fmt.Errorf("%w: invalid party name %q", ErrInput, o.Name))
	}
	if _, caPEM, _, _, err := o.TLS.Check(pki.RoleParty, o.Name, now); err != nil {
		return fail(err)
	} else if err := checkPeers(o.Name, o.Peers, caPEM, now); err != nil {
		return fail(err)
	}
	if o.WitnessKey == "" {
		return fail(fmt.Errorf("%w: no witness key file; make one with mpcadm witness-key", ErrInput))
	}
	skey, err := pki.ReadPrivate(o.WitnessKey)
	if err != nil {
		return fail(fmt.Errorf("witness key: %w", err))
	}
	if _, err := note.NewSigner(strings.TrimSpace(string(skey))); err != nil {
		return fail(fmt.Errorf("%w: witness key %s is not a note signer key: %w", ErrInput, o.WitnessKey, err))
	}
	if o.LedgerPublicKey == "" {
		return fail(fmt.Errorf("%w: no ledger public key; the coordinator's operator gives it (mpcadm ledger-key prints it)", ErrInput))
	}
	vkey, err := VerifierKey(o.LedgerPublicKey)
	if err != nil {
		return fail(fmt.Errorf("ledger public key: %w", err))
	}
	wrote, err := ensurePolicy(o.Policy, o.PolicyTemplate, o.Name)
	if err != nil {
		return fail(err)
	}
	c := party.Config{Name: o.Name, Listen: o.Listen, Workers: o.Workers, AllowInsecure: o.AllowInsecure, LedgerPublicKey: vkey}
	for _, p := range []struct {
		dst *string
		src string
	}{
		{&c.DataDir, o.DataDir}, {&c.CSV, o.CSV}, {&c.Schema, o.Schema}, {&c.Policy, o.Policy}, {&c.WitnessKey, o.WitnessKey},
		{&c.TLS.CA, o.TLS.CA}, {&c.TLS.Cert, o.TLS.Cert}, {&c.TLS.Key, o.TLS.Key},
	} {
		if *p.dst, err = abs(p.src); err != nil {
			return fail(err)
		}
	}
	for _, peer := range o.Peers {
		a, err := abs(peer)
		if err != nil {
			return fail(err)
		}
		c.Peers = append(c.Peers, a)
	}
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return fail(err)
	}
	return c, wrote, nil
}

// checkPeers checks that every peer file is a valid party certificate
// under the CA, of another party, each party once.
func checkPeers(self string, peers []string, caPEM []byte, now time.Time) error {
	seen := map[string]string{}
	for _, f := range peers {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("admin: reading a peer's certificate: %w", err)
		}
		id, err := pki.VerifyCertificate(b, caPEM, now)
		if err != nil {
			return fmt.Errorf("%w: peer certificate %s: %w", ErrMismatch, f, err)
		}
		switch {
		case id.Role != pki.RoleParty:
			return fmt.Errorf("%w: peer certificate %s is %s's; peers are the other parties' certificates", ErrMismatch, f, id)
		case id.Name == self:
			return fmt.Errorf("%w: peer certificate %s is this party's own; give only the other parties'", ErrInput, f)
		case seen[id.Name] != "":
			return fmt.Errorf("%w: peer certificates %s and %s are both party %s's", ErrInput, seen[id.Name], f, id.Name)
		}
		seen[id.Name] = f
	}
	return nil
}

// ensurePolicy writes a policy file from a template when it does not
// exist, or checks the one there; it reports whether it wrote one.
func ensurePolicy(path, template, partyName string) (bool, error) {
	if path == "" {
		return false, fmt.Errorf("%w: no policy file; give the path of the party's policy (written from a template if it does not exist)", ErrInput)
	}
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		p, err := policy.Parse(path, b)
		if err != nil {
			return false, err
		}
		if p.Party != partyName {
			return false, fmt.Errorf("%w: policy %s is party %q's, not %s's", ErrMismatch, path, p.Party, partyName)
		}
		return false, nil
	case errors.Is(err, fs.ErrNotExist):
	default:
		return false, fmt.Errorf("admin: reading the policy: %w", err)
	}
	if template == "" {
		template = PolicyMinimal
	}
	b, err = PolicyTemplate(template, partyName)
	if err != nil {
		return false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, fmt.Errorf("admin: creating the policy's directory: %w", err)
	}
	if err := pki.WritePublic(path, b); err != nil {
		return false, err
	}
	return true, nil
}

// Consortium is what the consortium's clients (analysts, auditors) need to
// know besides their own certificate and the CA's: where the coordinator
// and its ledger are, the parameter set, and the ledger's keys. mpcadm
// config coordinator writes it (ConsortiumFile); it holds no secret and
// goes to every analyst and auditor.
type Consortium struct {
	Consortium string `json:"consortium"`
	// Coordinator is the host:port analysts and auditors dial; its host
	// is in the coordinator's certificate.
	Coordinator string             `json:"coordinator"`
	ParamSet    string             `json:"param_set"`
	Ledger      auditor.LedgerInfo `json:"ledger"`
}

// LoadConsortium reads a ConsortiumFile.
func LoadConsortium(path string) (Consortium, error) {
	var c Consortium
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("admin: reading the consortium file: %w", err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%w: %s: %w", ErrInput, path, err)
	}
	if c.Coordinator == "" || c.ParamSet == "" || c.Ledger.PublicKey == "" {
		return c, fmt.Errorf("%w: %s lacks the coordinator's address, the parameter set or the ledger's key; regenerate it with mpcadm config coordinator", ErrInput, path)
	}
	return c, nil
}

// CoordinatorOptions is what the coordinator's config is made of. Paths
// may be relative to the working directory; the config holds them
// absolute.
type CoordinatorOptions struct {
	Consortium string
	Listen     string
	DataDir    string
	ParamSet   string
	TLS        Member
	// Parties maps each party's name to its host:port.
	Parties map[string]string
	// Witnesses maps each party's name to its cosigning verifier key, or
	// the file holding it (the party's WitnessPubFile).
	Witnesses map[string]string
	// LedgerKey is the ledger's signing key file (NewLedgerKey).
	LedgerKey    string
	LedgerListen string
	// PublicAddr is the host:port clients dial; empty: Listen, unless
	// its host is unspecified (0.0.0.0).
	PublicAddr string
	// PublicLedgerAddr is the host:port auditors read the ledger at;
	// empty: LedgerListen's port on PublicAddr's host.
	PublicLedgerAddr string
	Workers          int
	AllowInsecure    bool
}

// CoordinatorConfig checks the options (the coordinator's certificate and
// key, the ledger key, every party's witness key, the parameter set, that
// the public address is in the certificate) and returns the coordinator's
// config with defaults and the consortium's description for its clients.
func CoordinatorConfig(o CoordinatorOptions, now time.Time) (coordinator.Config, Consortium, error) {
	fail := func(err error) (coordinator.Config, Consortium, error) {
		return coordinator.Config{}, Consortium{}, fmt.Errorf("coordinator: %w", err)
	}
	if o.ParamSet == "" {
		o.ParamSet = mpc.DefaultSetName
	}
	if _, err := mpc.LookupSet(o.ParamSet); err != nil {
		return fail(fmt.Errorf("%w: %w", ErrInput, err))
	}
	_, _, certPEM, _, err := o.TLS.Check(pki.RoleCoordinator, "", now)
	if err != nil {
		return fail(err)
	}
	if o.LedgerKey == "" {
		return fail(fmt.Errorf("%w: no ledger key file; make one with mpcadm ledger-key", ErrInput))
	}
	skey, err := pki.ReadPrivate(o.LedgerKey)
	if err != nil {
		return fail(fmt.Errorf("ledger key: %w", err))
	}
	vkey, err := verifierOfSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		return fail(fmt.Errorf("%w: ledger key %s: %w", ErrInput, o.LedgerKey, err))
	}
	if len(o.Parties) == 0 {
		return fail(fmt.Errorf("%w: no parties; name each with its address, e.g. bank=bank.example.net:7101", ErrInput))
	}
	c := coordinator.Config{Consortium: o.Consortium, Listen: o.Listen, ParamSet: o.ParamSet, Workers: o.Workers,
		AllowInsecure: o.AllowInsecure, LedgerPublicKey: vkey, LedgerListen: o.LedgerListen, Witnesses: map[string]string{}}
	for _, p := range []struct {
		dst *string
		src string
	}{{&c.DataDir, o.DataDir}, {&c.LedgerKey, o.LedgerKey}, {&c.TLS.CA, o.TLS.CA}, {&c.TLS.Cert, o.TLS.Cert}, {&c.TLS.Key, o.TLS.Key}} {
		if *p.dst, err = abs(p.src); err != nil {
			return fail(err)
		}
	}
	names := make([]string, 0, len(o.Parties))
	for name := range o.Parties {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !pki.ValidName(name) {
			return fail(fmt.Errorf("%w: invalid party name %q", ErrInput, name))
		}
		c.Parties = append(c.Parties, coordinator.PartyAddr{Name: name, Addr: o.Parties[name]})
		w, ok := o.Witnesses[name]
		if !ok {
			return fail(fmt.Errorf("%w: no witness key for party %s; the party sends its %s (mpcadm witness-key)", ErrInput, name, WitnessPubFile))
		}
		if c.Witnesses[name], err = VerifierKey(w); err != nil {
			return fail(fmt.Errorf("witness key of party %s: %w", name, err))
		}
	}
	for name := range o.Witnesses {
		if _, ok := o.Parties[name]; !ok {
			return fail(fmt.Errorf("%w: a witness key for %s, which is not among the parties %v", ErrInput, name, names))
		}
	}
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return fail(err)
	}
	public, err := publicAddr(o.PublicAddr, o.Listen, "")
	if err != nil {
		return fail(err)
	}
	cert, err := pki.ParseCertificate(certPEM)
	if err != nil {
		return fail(err)
	}
	host, _, _ := net.SplitHostPort(public)
	if err := cert.VerifyHostname(host); err != nil {
		return fail(fmt.Errorf("%w: clients dial %s, but the coordinator's certificate does not name %s (its hosts: %v %v); give --public-addr a host it names, or request a certificate with --host %s",
			ErrMismatch, public, host, cert.DNSNames, cert.IPAddresses, host))
	}
	cons := Consortium{Consortium: c.Consortium, Coordinator: public, ParamSet: c.ParamSet,
		Ledger: auditor.LedgerInfo{PublicKey: vkey, Witnesses: c.Witnesses}}
	if o.LedgerListen != "" {
		la, err := publicAddr(o.PublicLedgerAddr, o.LedgerListen, host)
		if err != nil {
			return fail(err)
		}
		cons.Ledger.URL = "https://" + la + "/"
	}
	return c, cons, nil
}

// verifierOfSigner derives the verifier key of a note signer key
// ("PRIVATE+KEY+name+hash+key"), so that the config's ledger public key
// cannot differ from the key the ledger signs with.
func verifierOfSigner(skey string) (string, error) {
	if _, err := note.NewSigner(skey); err != nil {
		return "", err
	}
	rest, ok := strings.CutPrefix(skey, "PRIVATE+KEY+")
	if !ok {
		return "", fmt.Errorf("not a note signer key")
	}
	parts := strings.SplitN(rest, "+", 3) // the key data may hold '+'
	if len(parts) != 3 {
		return "", fmt.Errorf("not a note signer key")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return "", fmt.Errorf("not an Ed25519 note signer key")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	return note.NewEd25519VerifierKey(parts[0], pub)
}

// publicAddr is the address clients dial: given, else listen with its
// host replaced by hostDefault when set, unless that host is unspecified.
func publicAddr(given, listen, hostDefault string) (string, error) {
	if given != "" {
		if _, _, err := net.SplitHostPort(given); err != nil {
			return "", fmt.Errorf("%w: public address %q: %w", ErrInput, given, err)
		}
		return given, nil
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("%w: listen address %q: %w", ErrInput, listen, err)
	}
	if hostDefault != "" {
		host = hostDefault
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return "", fmt.Errorf("%w: %s listens on every interface; give the public address clients dial (a host in the coordinator's certificate)", ErrInput, listen)
	}
	return net.JoinHostPort(host, port), nil
}
