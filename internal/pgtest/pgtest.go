// Package pgtest starts a private PostgreSQL server for a test (package
// pgserver in a temporary directory, stopped when the test ends). A
// missing server installation fails the test: the PostgreSQL sources
// are part of what the tests must check.
package pgtest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mpcq/mpcq/internal/pgserver"
)

// Start starts a server for t, stopped at the end of the test.
func Start(t testing.TB) *pgserver.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := pgserver.Start(ctx, t.TempDir())
	if err != nil {
		t.Fatalf("cannot start PostgreSQL for the test (on Debian: apt-get install -y postgresql): %v", err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	return s
}

// Conn connects to the server's postgres database as the trusted role,
// closed at the end of the test.
func Conn(t testing.TB, s *pgserver.Server) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.ConnString("postgres"))
	if err != nil {
		t.Fatalf("connecting to the test PostgreSQL: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// Exec runs statements, failing the test on error.
func Exec(t testing.TB, c *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := c.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
