package pki

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
)

// ServerConfig returns a TLS 1.3 server configuration presenting the
// member's certificate and requiring every client to present a certificate
// issued by the CA of caPEM that carries an mpcq:// identity.
func ServerConfig(certPEM, keyPEM, caPEM []byte) (*tls.Config, error) {
	cert, err := keyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	pool, err := certPool(caPEM)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:       tls.VersionTLS13,
		Certificates:     []tls.Certificate{cert},
		ClientAuth:       tls.RequireAndVerifyClientCert,
		ClientCAs:        pool,
		VerifyConnection: requireIdentity("client"),
	}, nil
}

// ClientConfig returns a TLS 1.3 client configuration presenting the
// member's certificate and accepting only a server whose certificate was
// issued by the CA of caPEM for serverName (a DNS name or IP address) and
// carries the identity want expects. The identity is checked in the
// handshake, before the client sends its own certificate: a wrong server
// learns nothing of the client and receives no request. The handshake
// error wraps ErrWrongIdentity and names the presented and expected
// identities.
func ClientConfig(certPEM, keyPEM, caPEM []byte, serverName string, want Expect) (*tls.Config, error) {
	if serverName == "" {
		return nil, fmt.Errorf("%w: empty server name; give the host name or IP the server's certificate was issued for", ErrBadRequest)
	}
	if err := want.Validate(); err != nil {
		return nil, err
	}
	cert, err := keyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	pool, err := certPool(caPEM)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:       tls.VersionTLS13,
		Certificates:     []tls.Certificate{cert},
		RootCAs:          pool,
		ServerName:       serverName,
		VerifyConnection: requireExpected(want),
	}, nil
}

// keyPair loads a member's certificate and key and checks that the
// certificate carries an identity, so that a daemon started with a foreign
// certificate fails at start-up rather than at every handshake.
func keyPair(certPEM, keyPEM []byte) (tls.Certificate, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%w: loading the member certificate and key: %w", ErrBadPEM, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return tls.Certificate{}, fmt.Errorf("%w: parsing the member certificate: %w", ErrBadPEM, err)
		}
	}
	if _, err := IdentityOf(cert.Leaf); err != nil {
		return tls.Certificate{}, fmt.Errorf("member certificate: %w", err)
	}
	return cert, nil
}

// requireIdentity returns a VerifyConnection hook, run after the chain is
// verified, that refuses a peer whose certificate carries no valid identity.
func requireIdentity(peer string) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
			return fmt.Errorf("%w: the %s presented no verified certificate", ErrUnauthenticated, peer)
		}
		if _, err := IdentityOf(cs.VerifiedChains[0][0]); err != nil {
			return fmt.Errorf("%s certificate: %w", peer, err)
		}
		return nil
	}
}

// requireExpected returns a VerifyConnection hook, run after the chain is
// verified, that refuses a server whose identity is not what want expects.
func requireExpected(want Expect) func(tls.ConnectionState) error {
	has := requireIdentity("server")
	return func(cs tls.ConnectionState) error {
		if err := has(cs); err != nil {
			return err
		}
		id, _ := IdentityOf(cs.VerifiedChains[0][0]) // checked by has
		return want.check("server", id)
	}
}
