package pki

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// handshake runs a TLS connection over a loopback TCP connection between
// the two configs and exchanges one byte each way (in TLS 1.3 the client may
// finish its handshake before the server has rejected its certificate). It
// returns the server's view of the connection, and both sides' errors.
func handshake(t *testing.T, server, client *tls.Config) (srvState tls.ConnectionState, srvErr, cliErr error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		raw, err := ln.Accept()
		if err != nil {
			srvErr = err
			return
		}
		_ = raw.SetDeadline(time.Now().Add(10 * time.Second))
		srv := tls.Server(raw, server)
		defer srv.Close()
		if srvErr = srv.HandshakeContext(ctx); srvErr != nil {
			return
		}
		srvState = srv.ConnectionState()
		buf := make([]byte, 1)
		if _, srvErr = io.ReadFull(srv, buf); srvErr != nil {
			return
		}
		_, srvErr = srv.Write(buf)
	}()
	func() {
		raw, err := (&net.Dialer{}).DialContext(ctx, "tcp", ln.Addr().String())
		if err != nil {
			cliErr = err
			return
		}
		_ = raw.SetDeadline(time.Now().Add(10 * time.Second))
		cli := tls.Client(raw, client)
		defer cli.Close()
		if cliErr = cli.HandshakeContext(ctx); cliErr != nil {
			return
		}
		if _, cliErr = cli.Write([]byte{7}); cliErr != nil {
			return
		}
		_, cliErr = io.ReadFull(cli, make([]byte, 1))
	}()
	<-done
	return srvState, srvErr, cliErr
}

func mustServer(t *testing.T, certPEM, keyPEM, caPEM []byte) *tls.Config {
	t.Helper()
	c, err := ServerConfig(certPEM, keyPEM, caPEM)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustClient(t *testing.T, certPEM, keyPEM, caPEM []byte, serverName string, want Expect) *tls.Config {
	t.Helper()
	c, err := ClientConfig(certPEM, keyPEM, caPEM, serverName, want)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// anonKeyPair returns a certificate signed by ca that carries no identity,
// and its key.
func anonKeyPair(t *testing.T, ca *CA) (certPEM, keyPEM []byte) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return issueCustom(t, ca, func(*x509.Certificate) {}, pub), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func TestMutualTLS(t *testing.T) {
	ca, other := newTestCA(t), newTestCA(t)
	srvCert, srvKey := issue(t, ca, RoleCoordinator, "coordinator", "localhost", "127.0.0.1")
	cliCert, cliKey := issue(t, ca, RoleParty, "telecom")
	foreignCli, foreignCliKey := issue(t, other, RoleParty, "telecom")
	foreignSrv, foreignSrvKey := issue(t, other, RoleCoordinator, "coordinator", "localhost")

	anonCert, anonKey := anonKeyPair(t, ca)
	anonTLS, err := tls.X509KeyPair(anonCert, anonKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM())

	goodServer := func() *tls.Config { return mustServer(t, srvCert, srvKey, ca.CertPEM()) }
	goodClient := func() *tls.Config {
		return mustClient(t, cliCert, cliKey, ca.CertPEM(), "localhost", ExpectRole(RoleCoordinator))
	}

	t.Run("both sides verified", func(t *testing.T) {
		st, srvErr, cliErr := handshake(t, goodServer(), goodClient())
		if srvErr != nil || cliErr != nil {
			t.Fatalf("server: %v, client: %v", srvErr, cliErr)
		}
		if st.Version != tls.VersionTLS13 {
			t.Fatalf("version %x, want TLS 1.3", st.Version)
		}
		id, err := IdentityOf(st.VerifiedChains[0][0])
		if err != nil {
			t.Fatal(err)
		}
		if id.Role != RoleParty || id.Name != "telecom" {
			t.Fatalf("server sees %s", id)
		}
	})
	t.Run("IP server name", func(t *testing.T) {
		_, srvErr, cliErr := handshake(t, goodServer(), mustClient(t, cliCert, cliKey, ca.CertPEM(), "127.0.0.1", ExpectRole(RoleCoordinator)))
		if srvErr != nil || cliErr != nil {
			t.Fatalf("server: %v, client: %v", srvErr, cliErr)
		}
	})

	var verifyErr *tls.CertificateVerificationError
	badChain := func(err error) bool { return errors.As(err, &verifyErr) }
	noIdentity := func(err error) bool { return errors.Is(err, ErrNoIdentity) }
	anyErr := func(err error) bool { return err != nil }
	failures := []struct {
		name     string
		server   func() *tls.Config
		client   func() *tls.Config
		rejecter string // "server" or "client": the side that must refuse
		reason   func(error) bool
	}{
		{"client cert from another CA", goodServer, func() *tls.Config {
			c := mustClient(t, foreignCli, foreignCliKey, ca.CertPEM(), "localhost", ExpectRole(RoleCoordinator))
			// Send the foreign certificate even though the server did not ask for its CA.
			c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &c.Certificates[0], nil }
			return c
		}, "server", badChain},
		{"server cert from another CA", func() *tls.Config { return mustServer(t, foreignSrv, foreignSrvKey, ca.CertPEM()) }, goodClient, "client", badChain},
		{"client without certificate", goodServer, func() *tls.Config {
			return &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool, ServerName: "localhost"}
		}, "server", anyErr},
		{"client cert without identity", goodServer, func() *tls.Config {
			return &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool, ServerName: "localhost", Certificates: []tls.Certificate{anonTLS}}
		}, "server", noIdentity},
		{"server cert without identity", func() *tls.Config {
			c := goodServer()
			c.Certificates = []tls.Certificate{anonTLS}
			return c
		}, goodClient, "client", noIdentity},
		{"wrong server name", goodServer, func() *tls.Config {
			return mustClient(t, cliCert, cliKey, ca.CertPEM(), "bank.example", ExpectRole(RoleCoordinator))
		}, "client", badChain},
		{"client offers only TLS 1.2", goodServer, func() *tls.Config {
			c := goodClient()
			c.MinVersion, c.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
			return c
		}, "server", anyErr},
		{"expired client certificate", goodServer, func() *tls.Config {
			c, k, err := ca.Issue(RoleParty, "telecom", nil, time.Now().Add(-3*time.Hour), time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			return mustClient(t, c, k, ca.CertPEM(), "localhost", ExpectRole(RoleCoordinator))
		}, "server", badChain},
	}
	for _, tc := range failures {
		t.Run(tc.name, func(t *testing.T) {
			_, srvErr, cliErr := handshake(t, tc.server(), tc.client())
			if srvErr == nil && cliErr == nil {
				t.Fatal("connection succeeded")
			}
			err := srvErr
			if tc.rejecter == "client" {
				err = cliErr
			}
			if !tc.reason(err) {
				t.Fatalf("%s error %v is not the expected refusal (server: %v, client: %v)", tc.rejecter, err, srvErr, cliErr)
			}
		})
	}
}

func TestConfigRejects(t *testing.T) {
	ca := newTestCA(t)
	cert, key := issue(t, ca, RoleParty, "telecom")
	_, otherKey := issue(t, ca, RoleParty, "bank")
	anon, anonKey := anonKeyPair(t, ca)
	coordinator := ExpectRole(RoleCoordinator)
	cases := []struct {
		name             string
		cert, key, caPEM []byte
		serverName       string
		expect           Expect
		want             error
	}{
		{"mismatched key", cert, otherKey, ca.CertPEM(), "localhost", coordinator, ErrBadPEM},
		{"no CA", cert, key, []byte("nothing"), "localhost", coordinator, ErrBadPEM},
		{"own cert without identity", anon, anonKey, ca.CertPEM(), "localhost", coordinator, ErrNoIdentity},
		{"empty server name", cert, key, ca.CertPEM(), "", coordinator, ErrBadRequest},
		{"no expected server identity", cert, key, ca.CertPEM(), "localhost", Expect{}, ErrBadRequest},
		{"unknown expected role", cert, key, ca.CertPEM(), "localhost", ExpectRole("admin"), ErrBadRequest},
		{"invalid expected name", cert, key, ca.CertPEM(), "localhost", ExpectMember(RoleParty, "Bank/x"), ErrBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ClientConfig(tc.cert, tc.key, tc.caPEM, tc.serverName, tc.expect)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ClientConfig err = %v, want %v", err, tc.want)
			}
			if tc.serverName == "" || tc.expect != coordinator {
				return
			}
			if _, err := ServerConfig(tc.cert, tc.key, tc.caPEM); !errors.Is(err, tc.want) {
				t.Fatalf("ServerConfig err = %v, want %v", err, tc.want)
			}
		})
	}
}
