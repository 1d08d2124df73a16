package pki

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/url"
	"regexp"
	"time"
)

// clockSkew is how far before "now" certificates become valid, so that a
// member whose clock is a little behind accepts a fresh certificate.
const clockSkew = 5 * time.Minute

// ErrBadRequest is wrapped when a certificate cannot be issued as asked:
// unknown role, invalid name or host, or a validity that is not positive or
// outlives the CA.
var ErrBadRequest = errors.New("pki: bad certificate request")

// ErrBadPEM is wrapped when PEM input does not hold the expected
// certificate or Ed25519 private key, or the two do not match.
var ErrBadPEM = errors.New("pki: bad PEM input")

// ErrNotCA is wrapped when a certificate offered as the consortium CA is not
// a CA certificate.
var ErrNotCA = errors.New("pki: not a CA certificate")

// CA is the consortium's certificate authority: a self-signed Ed25519 CA
// certificate and its private key. A CA never prints its key.
type CA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     ed25519.PrivateKey
	keyPEM  []byte
}

// NewCA creates a CA with a fresh Ed25519 key, valid from now (less a few
// minutes for clock skew) for validity.
func NewCA(commonName string, now time.Time, validity time.Duration) (*CA, error) {
	if commonName == "" {
		return nil, fmt.Errorf("%w: the CA needs a common name, e.g. \"mpcq consortium CA\"", ErrBadRequest)
	}
	if validity <= 0 {
		return nil, fmt.Errorf("%w: CA validity %v is not positive", ErrBadRequest, validity)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: generating the CA key: %w", err)
	}
	serial, err := randomSerial(rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		return nil, fmt.Errorf("pki: creating the CA certificate: %w", err)
	}
	keyPEM, err := encodeKey(priv)
	if err != nil {
		return nil, err
	}
	return LoadCA(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM)
}

// LoadCA loads a CA from its certificate and private key PEM, checking that
// the certificate is a CA certificate and the key is its Ed25519 key.
func LoadCA(certPEM, keyPEM []byte) (*CA, error) {
	cert, err := ParseCertificate(certPEM)
	if err != nil {
		return nil, fmt.Errorf("loading the CA certificate: %w", err)
	}
	if !cert.BasicConstraintsValid || !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("%w: %q may not sign certificates; give the consortium CA's certificate", ErrNotCA, cert.Subject.CommonName)
	}
	key, err := PrivateKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("loading the CA key: %w", err)
	}
	pub, ok := cert.PublicKey.(ed25519.PublicKey)
	if !ok || !pub.Equal(key.Public()) {
		return nil, fmt.Errorf("%w: the CA key does not belong to CA certificate %q; check you paired the right files", ErrBadPEM, cert.Subject.CommonName)
	}
	canonical, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	return &CA{cert: cert, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), key: key, keyPEM: canonical}, nil
}

// CertPEM returns the CA certificate, PEM encoded; it is what every member
// trusts.
func (ca *CA) CertPEM() []byte { return bytes.Clone(ca.certPEM) }

// KeyPEM returns the CA's private key as PKCS#8 PEM. Store it with
// WritePrivate.
func (ca *CA) KeyPEM() []byte { return bytes.Clone(ca.keyPEM) }

// Certificate returns the parsed CA certificate.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// String names the CA without its key.
func (ca *CA) String() string {
	if ca == nil || ca.cert == nil {
		return "pki.CA(nil)"
	}
	return fmt.Sprintf("pki.CA(%q, key redacted)", ca.cert.Subject.CommonName)
}

// GoString is String, so that %#v does not print the key either.
func (ca *CA) GoString() string { return ca.String() }

// hostRE is an acceptable DNS name: dot-separated labels of letters, digits
// and '-', optionally a leading "*." wildcard.
var hostRE = regexp.MustCompile(`^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

// IssueOption adds to a certificate that Issue makes.
type IssueOption func(*issueOptions)

type issueOptions struct {
	groups []string
}

// WithGroups puts an analyst's groups into the certificate, as
// OrganizationalUnit values GroupPrefix+name of its Subject; IdentityOf
// returns them, sorted, in Identity.Groups. Names must be ValidGroup,
// unique and at most MaxGroups; only analysts may have groups.
func WithGroups(groups ...string) IssueOption {
	return func(o *issueOptions) { o.groups = append(o.groups, groups...) }
}

// Issue issues a certificate for member name in role, with a fresh Ed25519
// key, valid from now (less a few minutes for clock skew) for validity and
// usable for both TLS server and client authentication. hosts are the DNS
// names or IP addresses the member serves on (e.g. "localhost",
// "127.0.0.1"); members that only dial out may give none. opts add to the
// certificate (WithGroups). It returns the certificate and PKCS#8 private
// key, PEM encoded.
//
// Issue is for set-ups where one machine makes every key (the demo, the
// tests); in a consortium each member makes its own key and a certificate
// request (CreateCSR), and the CA signs it with IssueForKey.
func (ca *CA) Issue(role Role, name string, hosts []string, now time.Time, validity time.Duration, opts ...IssueOption) (certPEM, keyPEM []byte, err error) {
	// Check the request before drawing a key, so that a bad one costs
	// nothing.
	if _, err := ca.template(role, name, hosts, now, validity, opts...); err != nil {
		return nil, nil, err
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: generating the key of %s/%s: %w", role, name, err)
	}
	certPEM, err = ca.IssueForKey(role, name, pub, hosts, now, validity, opts...)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err = encodeKey(priv)
	if err != nil {
		return nil, nil, err
	}
	return certPEM, keyPEM, nil
}

// IssueForKey issues a certificate like Issue, but for a public key the
// member generated itself (the key of its certificate request, see
// ParseCSR): the private key never reaches the CA. It returns the
// certificate, PEM encoded.
func (ca *CA) IssueForKey(role Role, name string, pub ed25519.PublicKey, hosts []string, now time.Time, validity time.Duration, opts ...IssueOption) ([]byte, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: the public key of %s/%s is %d bytes, not an Ed25519 key", ErrBadRequest, role, name, len(pub))
	}
	tmpl, err := ca.template(role, name, hosts, now, validity, opts...)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		return nil, fmt.Errorf("pki: signing the certificate of %s/%s: %w", role, name, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// template checks a request and returns the certificate to sign for it.
func (ca *CA) template(role Role, name string, hosts []string, now time.Time, validity time.Duration, opts ...IssueOption) (*x509.Certificate, error) {
	var o issueOptions
	for _, opt := range opts {
		opt(&o)
	}
	if !role.Valid() {
		return nil, fmt.Errorf("%w: unknown role %q; roles are %v", ErrBadRequest, role, Roles())
	}
	if !ValidName(name) {
		return nil, fmt.Errorf("%w: invalid member name %q; use 1-64 of a-z, 0-9, '.', '_', '-'", ErrBadRequest, name)
	}
	if validity <= 0 {
		return nil, fmt.Errorf("%w: validity %v of the certificate for %s/%s is not positive", ErrBadRequest, validity, role, name)
	}
	ous := []string{string(role)}
	for _, g := range o.groups {
		ous = append(ous, GroupPrefix+g)
	}
	if _, err := groupsOf(ous, role); err != nil {
		return nil, fmt.Errorf("%w: certificate for %s/%s: %w", ErrBadRequest, role, name, err)
	}
	notAfter := now.Add(validity)
	if notAfter.After(ca.cert.NotAfter) {
		return nil, fmt.Errorf("%w: a certificate for %s/%s valid until %s would outlive the CA (valid until %s); shorten the validity or renew the CA",
			ErrBadRequest, role, name, notAfter.UTC().Format(time.RFC3339), ca.cert.NotAfter.UTC().Format(time.RFC3339))
	}
	dns, ips, err := splitHosts(hosts)
	if err != nil {
		return nil, fmt.Errorf("%w: %s/%s: %w", ErrBadRequest, role, name, err)
	}
	serial, err := randomSerial(rand.Reader)
	if err != nil {
		return nil, err
	}
	return &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:         name,
			OrganizationalUnit: ous,
			Organization:       []string{ca.cert.Subject.CommonName},
		},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		DNSNames:              dns,
		IPAddresses:           ips,
		URIs:                  []*url.URL{identityURI(role, name)},
	}, nil
}

// errBadHost is wrapped when a host is neither an IP address nor a DNS
// name.
var errBadHost = errors.New("bad host")

// splitHosts sorts hosts into DNS names and IP addresses, refusing one
// that is neither.
func splitHosts(hosts []string) ([]string, []net.IP, error) {
	var dns []string
	var ips []net.IP
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
			continue
		}
		if len(h) > 253 || !hostRE.MatchString(h) {
			return nil, nil, fmt.Errorf("%w: host %q is neither an IP address nor a DNS name", errBadHost, h)
		}
		dns = append(dns, h)
	}
	return dns, ips, nil
}

// randomSerial draws a random positive 128-bit serial number.
func randomSerial(r io.Reader) (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	n, err := rand.Int(r, limit)
	if err != nil {
		return nil, fmt.Errorf("pki: drawing a serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

// EncodePrivateKey encodes an Ed25519 private key as PKCS#8 PEM, the
// format PrivateKey reads. Store it with WritePrivate.
func EncodePrivateKey(key ed25519.PrivateKey) ([]byte, error) { return encodeKey(key) }

// encodeKey encodes an Ed25519 private key as PKCS#8 PEM.
func encodeKey(key ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("pki: encoding an Ed25519 private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseCertificate decodes the first CERTIFICATE block of certPEM.
func ParseCertificate(certPEM []byte) (*x509.Certificate, error) {
	rest := certPEM
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("%w: no CERTIFICATE block found; give a PEM certificate file", ErrBadPEM)
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: parsing certificate: %w", ErrBadPEM, err)
		}
		return cert, nil
	}
}

// PrivateKey decodes an Ed25519 private key from PKCS#8 PEM ("PRIVATE KEY"),
// for signing protocol messages with a member's identity key.
func PrivateKey(keyPEM []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block found; give a PEM private key file", ErrBadPEM)
	}
	if block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%w: PEM block is %q, want \"PRIVATE KEY\" (PKCS#8)", ErrBadPEM, block.Type)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: parsing PKCS#8 private key: %w", ErrBadPEM, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: private key is %T; consortium keys are Ed25519", ErrBadPEM, k)
	}
	return priv, nil
}

// VerifyCertificate checks that certPEM was issued by the CA of caPEM and is
// valid at now, and returns the identity it carries. Use it to trust a
// member's certificate received other than through a TLS handshake, e.g. to
// learn a party's signing key.
func VerifyCertificate(certPEM, caPEM []byte, now time.Time) (Identity, error) {
	cert, err := ParseCertificate(certPEM)
	if err != nil {
		return Identity{}, err
	}
	pool, err := certPool(caPEM)
	if err != nil {
		return Identity{}, err
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return Identity{}, fmt.Errorf("pki: certificate %q is not valid under the consortium CA: %w", cert.Subject.CommonName, err)
	}
	return IdentityOf(cert)
}

// certPool builds a pool holding the CA certificates of caPEM.
func certPool(caPEM []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("%w: no CA certificate found in the CA PEM; give the consortium's ca.pem", ErrBadPEM)
	}
	return pool, nil
}
