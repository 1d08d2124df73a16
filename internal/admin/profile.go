package admin

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/mpcq/mpcq/internal/analyst"
	"github.com/mpcq/mpcq/internal/auditor"
	"github.com/mpcq/mpcq/pki"
	"github.com/mpcq/mpcq/warrant"
)

// AnalystOptions are an analyst profile's defaults for queries that do not
// give them (internal/analyst ProfileConfig).
type AnalystOptions struct {
	Purpose    string
	LegalBasis string
	// Warrant, when set, is a signed warrant file (mpcwarrant issue) that
	// is copied into the profile and attached to queries by default.
	Warrant string
	// DefaultEpsilon is the ε of queries that give none, e.g. "1".
	DefaultEpsilon string
}

// WarrantFile is the name of the warrant copied into an analyst profile.
const WarrantFile = "warrant.pem"

// WriteAnalystProfile writes an analyst profile into dir for the member
// whose files m names (an analyst certificate under the CA, and its key):
// the consortium's coordinator and parameter set, the TLS files, and a
// fresh RLWE key pair for the results (internal/analyst WriteProfile).
// dir may be the directory the analyst's key was made in.
func WriteAnalystProfile(dir string, c Consortium, m Member, o AnalystOptions, now time.Time) (pki.Identity, error) {
	id, caPEM, certPEM, keyPEM, err := m.Check(pki.RoleAnalyst, "", now)
	if err != nil {
		return pki.Identity{}, fmt.Errorf("analyst profile: %w", err)
	}
	var sw []byte
	if o.Warrant != "" {
		if sw, err = os.ReadFile(o.Warrant); err != nil {
			return pki.Identity{}, fmt.Errorf("analyst profile: reading the warrant: %w", err)
		}
		s, err := warrant.ParseSigned(sw)
		if err != nil {
			return pki.Identity{}, fmt.Errorf("analyst profile: warrant %s: %w", o.Warrant, err)
		}
		v, err := warrant.Verify(s, caPEM, now)
		if err != nil {
			return pki.Identity{}, fmt.Errorf("analyst profile: warrant %s: %w", o.Warrant, err)
		}
		if !slices.Contains(v.Warrant.Analysts, id.String()) {
			return pki.Identity{}, fmt.Errorf("%w: warrant %s does not name %s; ask its authorizer for one that does", ErrMismatch, o.Warrant, id)
		}
	}
	cfg := analyst.ProfileConfig{Coordinator: c.Coordinator, ParamSet: c.ParamSet, Purpose: o.Purpose,
		LegalBasis: o.LegalBasis, DefaultEpsilon: o.DefaultEpsilon}
	if sw != nil {
		cfg.Warrant = WarrantFile
	}
	if err := analyst.WriteProfile(dir, cfg, caPEM, certPEM, keyPEM); err != nil {
		return pki.Identity{}, fmt.Errorf("analyst profile %s: %w", dir, err)
	}
	if sw != nil {
		// Warrants are confidential (they name a case): 0600.
		if err := pki.WritePrivate(filepath.Join(dir, WarrantFile), sw); err != nil {
			return pki.Identity{}, fmt.Errorf("analyst profile %s: %w", dir, err)
		}
	}
	return id, nil
}

// WriteAuditorProfile writes an auditor profile into dir for the member
// whose files m names (an auditor certificate under the CA, and its key):
// the coordinator's address and the ledger's URL and keys.
func WriteAuditorProfile(dir string, c Consortium, m Member, now time.Time) (pki.Identity, error) {
	id, caPEM, certPEM, keyPEM, err := m.Check(pki.RoleAuditor, "", now)
	if err != nil {
		return pki.Identity{}, fmt.Errorf("auditor profile: %w", err)
	}
	if c.Ledger.URL == "" {
		return pki.Identity{}, fmt.Errorf("%w: auditor profile: the consortium file has no ledger URL (the coordinator has no ledger_listen); auditors read the ledger there", ErrInput)
	}
	if err := auditor.WriteProfile(dir, auditor.ProfileConfig{Coordinator: c.Coordinator, Ledger: c.Ledger}, caPEM, certPEM, keyPEM); err != nil {
		return pki.Identity{}, fmt.Errorf("auditor profile %s: %w", dir, err)
	}
	return id, nil
}

// WriteAuthorizerProfile writes an authorizer profile into dir for the
// member whose files m names (an authorizer certificate under the CA, and
// its key): ca.pem, cert.pem and key.pem (0600), as mpcwarrant reads them.
func WriteAuthorizerProfile(dir string, m Member, now time.Time) (pki.Identity, error) {
	id, caPEM, certPEM, keyPEM, err := m.Check(pki.RoleAuthorizer, "", now)
	if err != nil {
		return pki.Identity{}, fmt.Errorf("authorizer profile: %w", err)
	}
	if err := mkdir(dir); err != nil {
		return pki.Identity{}, err
	}
	for _, f := range []struct {
		name    string
		b       []byte
		private bool
	}{{analyst.CAFile, caPEM, false}, {CertFile, certPEM, false}, {KeyFile, keyPEM, true}} {
		write := pki.WritePublic
		if f.private {
			write = pki.WritePrivate
		}
		if err := write(filepath.Join(dir, f.name), f.b); err != nil {
			return pki.Identity{}, fmt.Errorf("authorizer profile %s: %w", dir, err)
		}
	}
	return id, nil
}
