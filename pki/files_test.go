package pki

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWritePrivate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "party.key")
	// An existing world-readable file is replaced by a 0600 one.
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WritePrivate(path, []byte("new secret")); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm != 0o600 {
		t.Fatalf("mode %04o, want 0600", perm)
	}
	got, err := ReadPrivate(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "new secret" {
		t.Fatalf("read %q", got)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}

	t.Run("public file is 0644", func(t *testing.T) {
		p := filepath.Join(dir, "party.pem")
		if err := WritePublic(p, []byte("cert")); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if perm := st.Mode().Perm(); perm != 0o644 {
			t.Fatalf("mode %04o, want 0644", perm)
		}
	})
	t.Run("missing directory fails cleanly", func(t *testing.T) {
		if err := WritePrivate(filepath.Join(dir, "nope", "k"), []byte("x")); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("err = %v, want ErrNotExist", err)
		}
	})
}

func TestReadPrivateRefusesLooseModes(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		mode fs.FileMode
		ok   bool
	}{
		{0o600, true},
		{0o400, true},
		{0o640, false},
		{0o604, false},
		{0o644, false},
		{0o660, false},
		{0o666, false},
		{0o602, false},
	}
	for _, tc := range cases {
		t.Run(tc.mode.String(), func(t *testing.T) {
			path := filepath.Join(dir, "key-"+tc.mode.String())
			if err := os.WriteFile(path, []byte("k"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tc.mode); err != nil {
				t.Fatal(err)
			}
			_, err := ReadPrivate(path)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrInsecureKeyFile) {
				t.Fatalf("err = %v, want ErrInsecureKeyFile", err)
			}
			if !strings.Contains(err.Error(), "chmod 600 "+path) {
				t.Fatalf("error does not tell how to fix it: %v", err)
			}
		})
	}
	t.Run("directory", func(t *testing.T) {
		sub := filepath.Join(dir, "sub")
		if err := os.Mkdir(sub, 0o700); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadPrivate(sub); !errors.Is(err, ErrInsecureKeyFile) {
			t.Fatalf("err = %v, want ErrInsecureKeyFile", err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		if _, err := ReadPrivate(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("err = %v, want ErrNotExist", err)
		}
	})
}

func TestFileHelpers(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	certPEM, keyPEM := issue(t, ca, RoleParty, "telecom", "localhost")
	_, otherKey := issue(t, ca, RoleParty, "bank")
	write := func(name string, data []byte, private bool) string {
		p := filepath.Join(dir, name)
		var err error
		if private {
			err = WritePrivate(p, data)
		} else {
			err = WritePublic(p, data)
		}
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	certFile := write("telecom.pem", certPEM, false)
	keyFile := write("telecom.key", keyPEM, true)
	otherKeyFile := write("bank.key", otherKey, true)
	caFile := write("ca.pem", ca.CertPEM(), false)
	caKeyFile := write("ca.key", ca.KeyPEM(), true)

	t.Run("key pair", func(t *testing.T) {
		c, k, err := LoadKeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(c, certPEM) || !bytes.Equal(k, keyPEM) {
			t.Fatal("files do not round-trip")
		}
		if _, _, err := LoadKeyPair(certFile, otherKeyFile); !errors.Is(err, ErrBadPEM) {
			t.Fatalf("mismatched pair: err = %v, want ErrBadPEM", err)
		}
	})
	t.Run("CA", func(t *testing.T) {
		loaded, err := LoadCAFiles(caFile, caKeyFile)
		if err != nil {
			t.Fatal(err)
		}
		c, _, err := loaded.Issue(RoleAuditor, "auditor-1", nil, time.Now(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := VerifyCertificate(c, ca.CertPEM(), time.Now()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("configs", func(t *testing.T) {
		srv, err := LoadServerConfig(certFile, keyFile, caFile)
		if err != nil {
			t.Fatal(err)
		}
		cli, err := LoadClientConfig(certFile, keyFile, caFile, "localhost", ExpectMember(RoleParty, "telecom"))
		if err != nil {
			t.Fatal(err)
		}
		if _, srvErr, cliErr := handshake(t, srv, cli); srvErr != nil || cliErr != nil {
			t.Fatalf("server: %v, client: %v", srvErr, cliErr)
		}
	})
	t.Run("world-readable key refused everywhere", func(t *testing.T) {
		if err := os.Chmod(keyFile, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(caKeyFile, 0o640); err != nil {
			t.Fatal(err)
		}
		if _, _, err := LoadKeyPair(certFile, keyFile); !errors.Is(err, ErrInsecureKeyFile) {
			t.Fatalf("LoadKeyPair err = %v", err)
		}
		if _, err := LoadServerConfig(certFile, keyFile, caFile); !errors.Is(err, ErrInsecureKeyFile) {
			t.Fatalf("LoadServerConfig err = %v", err)
		}
		if _, err := LoadClientConfig(certFile, keyFile, caFile, "localhost", ExpectRole(RoleParty)); !errors.Is(err, ErrInsecureKeyFile) {
			t.Fatalf("LoadClientConfig err = %v", err)
		}
		if _, err := LoadCAFiles(caFile, caKeyFile); !errors.Is(err, ErrInsecureKeyFile) {
			t.Fatalf("LoadCAFiles err = %v", err)
		}
	})
}
