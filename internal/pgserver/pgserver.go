// Package pgserver runs a private PostgreSQL cluster in a directory, for
// the demo and tests: initdb, pg_ctl start on a free port of 127.0.0.1
// with its unix socket inside the directory and trust authentication for
// one role, pg_ctl stop. It is not for production databases.
//
// The server binaries are found under /usr/lib/postgresql/*/bin (where
// Debian's postgresql package puts initdb, which is not on PATH), or in
// $PG_BIN. PostgreSQL refuses to run as root: as root the cluster runs as
// the "postgres" user, which then owns the directory's files, and its
// ancestors get search permission (o+x) if they lack it.
package pgserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/mpcq/mpcq/internal/freeport"
)

// ErrNoBinaries means initdb and pg_ctl were not found.
var ErrNoBinaries = errors.New("PostgreSQL server binaries not found (install Debian's postgresql package, or set PG_BIN to the directory holding initdb and pg_ctl)")

// Role is the trusted role the cluster is created with.
const Role = "mpcq"

// Server is a cluster in Dir, listening on 127.0.0.1:Port.
type Server struct {
	Dir  string // the cluster's directory: data/, sock/, server.log
	Bin  string // directory of initdb and pg_ctl
	Port int

	cred *syscall.Credential // the postgres user's, when running as root
}

// BinDir finds the directory holding initdb and pg_ctl: $PG_BIN, else the
// newest /usr/lib/postgresql/*/bin.
func BinDir() (string, error) {
	if d := os.Getenv("PG_BIN"); d != "" {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err != nil {
			return "", fmt.Errorf("%w: PG_BIN=%s: %v", ErrNoBinaries, d, err)
		}
		return d, nil
	}
	m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(m) == 0 {
		return "", ErrNoBinaries
	}
	sort.Slice(m, func(i, j int) bool { return version(m[i]) < version(m[j]) })
	return filepath.Dir(m[len(m)-1]), nil
}

func version(initdb string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return v
}

// Start creates a cluster in dir (unless dir/data already holds one) and
// starts it on a free port.
func Start(ctx context.Context, dir string) (*Server, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "sock"), 0o700); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: abs, Bin: bin}
	if os.Geteuid() == 0 {
		if err := s.asPostgresUser(); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(filepath.Join(s.Dir, "data", "PG_VERSION")); err != nil {
		if err := s.run(ctx, "initdb", "-D", filepath.Join(s.Dir, "data"), "-U", Role, "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"); err != nil {
			return nil, err
		}
	}
	if err := s.startOn(ctx, 0); err != nil {
		return nil, err
	}
	return s, nil
}

// asPostgresUser makes the commands run as the postgres user and gives it
// the cluster's directory (and search permission on its ancestors).
func (s *Server) asPostgresUser() error {
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("running as root, PostgreSQL needs the postgres user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	err = filepath.Walk(s.Dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		return err
	}
	for d := filepath.Dir(s.Dir); d != "/"; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, fi.Mode().Perm()|0o011); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Server) run(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(s.Bin, name), args...)
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", name, err, out)
	}
	return nil
}

// startOn starts the server on port (0: a free one).
func (s *Server) startOn(ctx context.Context, port int) error {
	if port == 0 {
		addr, err := freeport.Addr()
		if err != nil {
			return err
		}
		_, p, _ := net.SplitHostPort(addr)
		if port, err = strconv.Atoi(p); err != nil {
			return err
		}
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", port, filepath.Join(s.Dir, "sock"))
	if err := s.run(ctx, "pg_ctl", "-D", filepath.Join(s.Dir, "data"), "-l", filepath.Join(s.Dir, "server.log"), "-o", opts, "-w", "-t", "60", "start"); err != nil {
		return err
	}
	s.Port = port
	return nil
}

// ConnString is a connection string for database db as the trusted role.
func (s *Server) ConnString(db string) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=%s dbname=%s sslmode=disable", s.Port, Role, db)
}

// Stop stops the server (fast mode: connections are terminated).
func (s *Server) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return s.run(ctx, "pg_ctl", "-D", filepath.Join(s.Dir, "data"), "-m", "fast", "-w", "stop")
}

// Restart starts a stopped server again on the same port.
func (s *Server) Restart(ctx context.Context) error { return s.startOn(ctx, s.Port) }
