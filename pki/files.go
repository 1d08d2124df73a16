package pki

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/mpcq/mpcq/internal/atomicfile"
)

// ErrInsecureKeyFile is wrapped when a private key file may be read by
// group or others, or is not a regular file.
var ErrInsecureKeyFile = errors.New("pki: insecure private key file")

// WritePrivate writes data (a private key) to path atomically with mode
// 0600: it writes a temporary file created 0600 in the same directory,
// fsyncs it, renames it over path and fsyncs the directory. A reader sees
// the old file or the new one, never a partial or world-readable key.
func WritePrivate(path string, data []byte) error {
	return writeAtomic(path, data, 0o600)
}

// WritePublic writes data (a certificate) to path atomically with mode
// 0644, like WritePrivate.
func WritePublic(path string, data []byte) error {
	return writeAtomic(path, data, 0o644)
}

func writeAtomic(path string, data []byte, perm fs.FileMode) error {
	if err := atomicfile.Write(path, data, perm); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	return nil
}

// ReadPrivate reads a private key file, refusing one that group or others
// may read or write (the error tells the user to chmod 600) or that is not a
// regular file.
func ReadPrivate(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pki: reading private key: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("pki: reading private key: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file (mode %s)", ErrInsecureKeyFile, path, st.Mode())
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o, so group or others can access it; run: chmod 600 %s",
			ErrInsecureKeyFile, path, perm, path)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("pki: reading private key %s: %w", path, err)
	}
	return data, nil
}

// LoadKeyPair reads a member's certificate file and private key file (the
// latter through ReadPrivate) and checks that they belong together.
func LoadKeyPair(certFile, keyFile string) (certPEM, keyPEM []byte, err error) {
	certPEM, err = os.ReadFile(certFile)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: reading certificate: %w", err)
	}
	keyPEM, err = ReadPrivate(keyFile)
	if err != nil {
		return nil, nil, err
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return nil, nil, fmt.Errorf("%w: %s and %s do not form a key pair: %w", ErrBadPEM, certFile, keyFile, err)
	}
	return certPEM, keyPEM, nil
}

// LoadCAFiles loads the CA from its certificate file and private key file
// (the latter through ReadPrivate).
func LoadCAFiles(certFile, keyFile string) (*CA, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("pki: reading CA certificate: %w", err)
	}
	keyPEM, err := ReadPrivate(keyFile)
	if err != nil {
		return nil, err
	}
	return LoadCA(certPEM, keyPEM)
}

// LoadServerConfig is ServerConfig over files.
func LoadServerConfig(certFile, keyFile, caFile string) (*tls.Config, error) {
	certPEM, keyPEM, caPEM, err := loadFiles(certFile, keyFile, caFile)
	if err != nil {
		return nil, err
	}
	return ServerConfig(certPEM, keyPEM, caPEM)
}

// LoadClientConfig is ClientConfig over files.
func LoadClientConfig(certFile, keyFile, caFile, serverName string, want Expect) (*tls.Config, error) {
	certPEM, keyPEM, caPEM, err := loadFiles(certFile, keyFile, caFile)
	if err != nil {
		return nil, err
	}
	return ClientConfig(certPEM, keyPEM, caPEM, serverName, want)
}

func loadFiles(certFile, keyFile, caFile string) (certPEM, keyPEM, caPEM []byte, err error) {
	certPEM, keyPEM, err = LoadKeyPair(certFile, keyFile)
	if err != nil {
		return nil, nil, nil, err
	}
	caPEM, err = os.ReadFile(caFile)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("pki: reading CA certificate: %w", err)
	}
	return certPEM, keyPEM, caPEM, nil
}
