// Package baseline is the benchmark's central database: what the
// institutions would run if they pooled their raw tables in one place.
// It loads the demo's CSVs into DuckDB (an in-process analytical engine,
// through its Go bindings) with the schema's types, then runs the same SQL
// text the analyst sends to the encrypted system and returns its rows.
//
// Only mpcdemo links it (DuckDB is a large static library): no daemon and
// no end-to-end test binary does.
package baseline

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // registers the "duckdb" database/sql driver

	"github.com/mpcq/mpcq/schema"
)

// ErrBaseline is wrapped by every error of this package.
var ErrBaseline = errors.New("baseline")

// NullText is how a SQL NULL cell is rendered, as the analyst's results do.
const NullText = "NULL"

// dsn is an in-memory database that never tries to download an extension
// (everything used here is built in).
const dsn = "?autoinstall_known_extensions=false&autoload_known_extensions=false"

// Engine is an in-memory DuckDB database holding the pooled tables.
type Engine struct {
	db *sql.DB
}

// Open starts an empty in-memory DuckDB database.
func Open(ctx context.Context) (*Engine, error) {
	db, err := sql.Open("duckdb", dsn)
	if err != nil {
		return nil, fmt.Errorf("%w: opening DuckDB: %w", ErrBaseline, err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("%w: opening DuckDB: %w", ErrBaseline, err)
	}
	return &Engine{db: db}, nil
}

// Close releases the database.
func (e *Engine) Close() error { return e.db.Close() }

// Version is the engine's name and library version, e.g. "duckdb v1.4.3".
func (e *Engine) Version(ctx context.Context) (string, error) {
	var v string
	if err := e.db.QueryRowContext(ctx, "SELECT library_version FROM pragma_version()").Scan(&v); err != nil {
		return "", fmt.Errorf("%w: DuckDB version: %w", ErrBaseline, err)
	}
	return "duckdb " + v, nil
}

// LoadCSV creates table t (its key the primary key, integer columns
// BIGINT, category columns VARCHAR, every column NOT NULL) and loads the
// CSV file at path into it, matching the CSV's header to the columns by
// name. A missing, extra or mistyped column, a duplicate key or a bad
// value fails naming the table and the file.
func (e *Engine) LoadCSV(ctx context.Context, t schema.Table, path string) error {
	if t.Name == "" || t.Key == "" {
		return fmt.Errorf("%w: table %q with key %q: a table needs a name and a key", ErrBaseline, t.Name, t.Key)
	}
	defs := []string{ident(t.Key) + " VARCHAR PRIMARY KEY"}
	types := []string{quote(t.Key) + ": 'VARCHAR'"}
	for _, c := range t.Columns {
		typ, err := sqlType(c)
		if err != nil {
			return fmt.Errorf("%w: table %s: %w", ErrBaseline, t.Name, err)
		}
		defs = append(defs, ident(c.Name)+" "+typ+" NOT NULL")
		types = append(types, quote(c.Name)+": '"+typ+"'")
	}
	tx, err := e.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%w: loading %s: %w", ErrBaseline, t.Name, err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("CREATE TABLE %s (%s)", ident(t.Name), strings.Join(defs, ", "))); err != nil {
		return fmt.Errorf("%w: creating table %s: %w", ErrBaseline, t.Name, err)
	}
	// BY NAME: the CSV's header names the columns; a column the table
	// lacks is an error, one the CSV lacks breaks NOT NULL.
	load := fmt.Sprintf("INSERT INTO %s BY NAME SELECT * FROM read_csv(%s, header = true, auto_detect = true, types = {%s})",
		ident(t.Name), quote(path), strings.Join(types, ", "))
	if _, err := tx.ExecContext(ctx, load); err != nil {
		return fmt.Errorf("%w: loading table %s from %s: %w", ErrBaseline, t.Name, path, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%w: loading table %s from %s: %w", ErrBaseline, t.Name, path, err)
	}
	return nil
}

// Rows counts the rows of a loaded table.
func (e *Engine) Rows(ctx context.Context, table string) (int64, error) {
	var n int64
	if err := e.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+ident(table)).Scan(&n); err != nil {
		return 0, fmt.Errorf("%w: counting table %s: %w", ErrBaseline, table, err)
	}
	return n, nil
}

// Query runs query and returns its rows rendered as decimal text (NULL as
// NullText) and the time from sending the query to its last row.
func (e *Engine) Query(ctx context.Context, query string) ([][]string, time.Duration, error) {
	start := time.Now()
	rows, err := e.db.QueryContext(ctx, query)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: DuckDB refused the query: %w", ErrBaseline, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrBaseline, err)
	}
	var out [][]string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, 0, fmt.Errorf("%w: reading a row: %w", ErrBaseline, err)
		}
		row := make([]string, len(vals))
		for i, v := range vals {
			row[i] = render(v)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("%w: running the query: %w", ErrBaseline, err)
	}
	return out, time.Since(start), nil
}

// render writes a DuckDB value as the analyst's results do.
func render(v any) string {
	switch x := v.(type) {
	case nil:
		return NullText
	case int64:
		return strconv.FormatInt(x, 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case *big.Int: // HUGEINT: SUM of BIGINT
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case string:
		return x
	case []byte:
		return string(x)
	}
	return fmt.Sprint(v)
}

// sqlType is a schema column's DuckDB type.
func sqlType(c schema.Column) (string, error) {
	switch c.Kind {
	case schema.KindInt:
		return "BIGINT", nil
	case schema.KindCategory:
		return "VARCHAR", nil
	}
	return "", fmt.Errorf("column %s: kind %q has no DuckDB type here", c.Name, c.Kind)
}

// ident quotes an identifier.
func ident(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// quote is a SQL string literal.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Compare checks the encrypted system's answer against DuckDB's. The first
// groups cells of a row are its group values. SQL has no row for an empty
// group, which the encrypted answer shows with zero counts and sums, and
// SQL's SUM over nobody is NULL where the encrypted answer says 0; apart
// from that every row and cell must be equal, in any row order.
func Compare(encrypted, duck [][]string, groups int) error {
	key := func(row []string) string { return strings.Join(row[:min(groups, len(row))], "\x00") }
	byKey := map[string][]string{}
	for _, r := range duck {
		byKey[key(r)] = r
	}
	seen := map[string]bool{}
	for _, r := range encrypted {
		k := key(r)
		want, ok := byKey[k]
		if !ok {
			for _, c := range r[min(groups, len(r)):] {
				if c != "0" && c != NullText {
					return fmt.Errorf("%w: group %q: encrypted %v, DuckDB has no row for it", ErrBaseline, k, r)
				}
			}
			continue
		}
		seen[k] = true
		if len(want) != len(r) {
			return fmt.Errorf("%w: group %q: encrypted row %v has %d cells, DuckDB's %v %d", ErrBaseline, k, r, len(r), want, len(want))
		}
		for i := range r {
			if r[i] != want[i] && !(want[i] == NullText && r[i] == "0") {
				return fmt.Errorf("%w: group %q, column %d: encrypted %s, DuckDB %s", ErrBaseline, k, i+1, r[i], want[i])
			}
		}
	}
	for _, r := range duck {
		if !seen[key(r)] {
			return fmt.Errorf("%w: DuckDB's row %v is missing from the encrypted answer", ErrBaseline, r)
		}
	}
	return nil
}
