package main

import (
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/mpcq/mpcq/pki"
)

// Files of an authorizer profile directory: the same names as an
// analyst's profile (internal/analyst).
const (
	caFile   = "ca.pem"
	certFile = "cert.pem"
	keyFile  = "key.pem"
)

// profile is a loaded authorizer profile.
type profile struct {
	certPEM, caPEM []byte
	key            ed25519.PrivateKey
	id             pki.Identity
}

// loadProfile reads DIR/cert.pem, DIR/key.pem (which must be 0600) and
// DIR/ca.pem, and checks that the certificate is valid under the CA at
// now and is an authorizer's.
func loadProfile(dir string, now time.Time) (profile, error) {
	certPEM, keyPEM, err := pki.LoadKeyPair(filepath.Join(dir, certFile), filepath.Join(dir, keyFile))
	if err != nil {
		return profile{}, fmt.Errorf("authorizer profile %s: %w", dir, err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, caFile))
	if err != nil {
		return profile{}, fmt.Errorf("authorizer profile %s: %w", dir, err)
	}
	key, err := pki.PrivateKey(keyPEM)
	if err != nil {
		return profile{}, fmt.Errorf("authorizer profile %s: %w", dir, err)
	}
	id, err := pki.VerifyCertificate(certPEM, caPEM, now)
	if err != nil {
		return profile{}, fmt.Errorf("authorizer profile %s: %w", dir, err)
	}
	if id.Role != pki.RoleAuthorizer {
		return profile{}, fmt.Errorf("authorizer profile %s: the certificate is %s's; warrants are signed with an authorizer's certificate (role %s)", dir, id, pki.RoleAuthorizer)
	}
	return profile{certPEM: certPEM, caPEM: caPEM, key: key, id: id}, nil
}
