package pki

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// ErrBadCSR is wrapped when a certificate signing request cannot be
// signed: not PEM, not PKCS#10, a signature that does not verify, a key
// that is not Ed25519, or an identity that is missing, malformed or
// inconsistent.
var ErrBadCSR = errors.New("pki: bad certificate signing request")

// csrPEMType is the PEM block type of a PKCS#10 request.
const csrPEMType = "CERTIFICATE REQUEST"

// CSR is what a verified certificate signing request asks for: an identity
// (role, name, an analyst's groups), the hosts the member serves on, and
// the public key of the private key that signed the request.
type CSR struct {
	Role Role
	Name string
	// Groups are an analyst's groups, sorted; nil for none.
	Groups []string
	// Hosts are the DNS names and IP addresses, in the request's order
	// (DNS names first).
	Hosts     []string
	PublicKey ed25519.PublicKey
}

// Identity returns the identity the request asks for.
func (c CSR) Identity() Identity {
	return Identity{Role: c.Role, Name: c.Name, Groups: c.Groups, PublicKey: c.PublicKey}
}

// CreateCSR makes a PKCS#10 certificate signing request, signed with key,
// for member name in role with the given hosts and (analysts only) groups.
// It carries the identity as the certificate will: the URI SAN
// mpcq://<role>/<name>, the role and groups as OrganizationalUnit values
// and the name as CommonName. It returns the request, PEM encoded. The
// request is checked as ParseCSR checks it, so that a member learns of a
// mistake before sending it.
func CreateCSR(key ed25519.PrivateKey, role Role, name string, hosts []string, opts ...IssueOption) ([]byte, error) {
	var o issueOptions
	for _, opt := range opts {
		opt(&o)
	}
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: the private key is %d bytes, not an Ed25519 key", ErrBadCSR, len(key))
	}
	if !role.Valid() {
		return nil, fmt.Errorf("%w: unknown role %q; roles are %v", ErrBadCSR, role, Roles())
	}
	if !ValidName(name) {
		return nil, fmt.Errorf("%w: invalid member name %q; use 1-64 of a-z, 0-9, '.', '_', '-'", ErrBadCSR, name)
	}
	ous := []string{string(role)}
	for _, g := range o.groups {
		ous = append(ous, GroupPrefix+g)
	}
	if _, err := groupsOf(ous, role); err != nil {
		return nil, fmt.Errorf("%w: %s/%s: %w", ErrBadCSR, role, name, err)
	}
	dns, ips, err := splitHosts(hosts)
	if err != nil {
		return nil, fmt.Errorf("%w: %s/%s: %w", ErrBadCSR, role, name, err)
	}
	tmpl := &x509.CertificateRequest{
		Subject:     pkix.Name{CommonName: name, OrganizationalUnit: ous},
		DNSNames:    dns,
		IPAddresses: ips,
		URIs:        []*url.URL{identityURI(role, name)},
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, fmt.Errorf("pki: creating the certificate request of %s/%s: %w", role, name, err)
	}
	out := pem.EncodeToMemory(&pem.Block{Type: csrPEMType, Bytes: der})
	if _, err := ParseCSR(out); err != nil {
		return nil, err
	}
	return out, nil
}

// ParseCSR decodes a PEM certificate signing request and checks it: its
// signature verifies under its own Ed25519 public key (so whoever made it
// holds the private key, and nothing was changed on the way), it carries
// exactly one mpcq:// identity URI with a known role and a valid name, its
// CommonName is that name, its OrganizationalUnit values are the role and,
// for an analyst only, valid groups. It returns what the request asks for.
func ParseCSR(csrPEM []byte) (CSR, error) {
	block, _ := pem.Decode(csrPEM)
	if block == nil {
		return CSR{}, fmt.Errorf("%w: no PEM block found; give the .csr file made by mpcadm csr", ErrBadCSR)
	}
	if block.Type != csrPEMType {
		return CSR{}, fmt.Errorf("%w: PEM block is %q, want %q", ErrBadCSR, block.Type, csrPEMType)
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return CSR{}, fmt.Errorf("%w: parsing PKCS#10: %w", ErrBadCSR, err)
	}
	pub, ok := req.PublicKey.(ed25519.PublicKey)
	if !ok {
		return CSR{}, fmt.Errorf("%w: the request's key is %T; consortium keys are Ed25519", ErrBadCSR, req.PublicKey)
	}
	if err := req.CheckSignature(); err != nil {
		return CSR{}, fmt.Errorf("%w: its signature does not verify (it was altered, or not signed by its key): %w", ErrBadCSR, err)
	}
	var found []*url.URL
	for _, u := range req.URIs {
		if u != nil && strings.EqualFold(u.Scheme, IdentityScheme) {
			found = append(found, u)
		}
	}
	if len(found) != 1 {
		return CSR{}, fmt.Errorf("%w: it carries %d %s://<role>/<name> identities; it must carry exactly one", ErrBadCSR, len(found), IdentityScheme)
	}
	role, name, err := ParseIdentityURI(found[0].String())
	if err != nil {
		return CSR{}, fmt.Errorf("%w: %w", ErrBadCSR, err)
	}
	if req.Subject.CommonName != name {
		return CSR{}, fmt.Errorf("%w: its common name %q differs from the identity's name %q", ErrBadCSR, req.Subject.CommonName, name)
	}
	for _, ou := range req.Subject.OrganizationalUnit {
		if !strings.HasPrefix(ou, GroupPrefix) && ou != string(role) {
			return CSR{}, fmt.Errorf("%w: organizational unit %q is neither the role %q nor a %s value", ErrBadCSR, ou, role, GroupPrefix)
		}
	}
	groups, err := groupsOf(req.Subject.OrganizationalUnit, role)
	if err != nil {
		return CSR{}, fmt.Errorf("%w: %s://%s/%s: %w", ErrBadCSR, IdentityScheme, role, name, err)
	}
	hosts := slices.Clone(req.DNSNames)
	for _, ip := range req.IPAddresses {
		hosts = append(hosts, ip.String())
	}
	if _, _, err := splitHosts(hosts); err != nil {
		return CSR{}, fmt.Errorf("%w: %w", ErrBadCSR, err)
	}
	if len(req.EmailAddresses) > 0 {
		return CSR{}, fmt.Errorf("%w: it carries e-mail addresses %v; consortium certificates carry none", ErrBadCSR, req.EmailAddresses)
	}
	return CSR{Role: role, Name: name, Groups: groups, Hosts: hosts, PublicKey: pub}, nil
}

// IssueCSR checks a certificate signing request (ParseCSR) and issues its
// certificate with IssueForKey: the role, name, groups, hosts and public key
// all come from the request. It returns the certificate, PEM encoded, and
// what was issued.
func (ca *CA) IssueCSR(csrPEM []byte, now time.Time, validity time.Duration) ([]byte, CSR, error) {
	c, err := ParseCSR(csrPEM)
	if err != nil {
		return nil, CSR{}, err
	}
	cert, err := ca.IssueForKey(c.Role, c.Name, c.PublicKey, c.Hosts, now, validity, WithGroups(c.Groups...))
	if err != nil {
		return nil, CSR{}, err
	}
	return cert, c, nil
}
