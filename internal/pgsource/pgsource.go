// Package pgsource is a party's table read from PostgreSQL at query time:
// the person keys when the party aligns, and at every query step one
// parameterized SELECT (built by package pgsql) computing the step's
// local conditions and the columns it needs. Values therefore change
// without a new epoch; the set of keys does not (see docs/postgres.md).
//
// The declared schema stays the contract: every row a query reads is
// checked within its columns' bounds and domains, and a row outside them
// fails the query with an error naming the row's key position, never its
// key. The party's database role needs SELECT on the relation only.
package pgsource

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mpcq/mpcq/internal/pgsql"
	"github.com/mpcq/mpcq/internal/source"
	"github.com/mpcq/mpcq/schema"
)

// Source reads one table from a PostgreSQL relation; it implements
// source.Source.
type Source struct {
	pool *pgxpool.Pool
	t    schema.Table
	rel  pgsql.Relation
}

var _ source.Source = (*Source)(nil)

// PostgreSQL type OIDs of the column types a source accepts.
const (
	oidInt8    = 20
	oidInt2    = 21
	oidInt4    = 23
	oidText    = 25
	oidBPChar  = 1042
	oidVarchar = 1043
	// oidUser is the first OID of user-defined types (enums among them).
	oidUser = 16384
)

// Open connects to the database of connString and checks that rel has
// the key column and every declared column of t with a fitting type:
// smallint, integer or bigint for an int column, text, varchar, char or
// an enum for a category column.
func Open(ctx context.Context, connString string, t schema.Table, rel pgsql.Relation) (*Source, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		// pgx's message may quote the connection string and its password.
		return nil, fmt.Errorf("%w: table %s: the connection string does not parse", source.ErrDatabase, t.Name)
	}
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: table %s: %w", source.ErrDatabase, t.Name, err)
	}
	s := &Source{pool: pool, t: t, rel: rel}
	if err := s.probe(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// probe checks the relation's column types.
func (s *Source) probe(ctx context.Context) error {
	rows, err := s.pool.Query(ctx, pgsql.ProbeSQL(s.t, s.rel))
	if err != nil {
		return s.dbErr("checking relation "+s.rel.Name, err)
	}
	fds := rows.FieldDescriptions()
	rows.Close()
	if err := rows.Err(); err != nil {
		return s.dbErr("checking relation "+s.rel.Name, err)
	}
	for i, c := range s.t.Columns {
		oid := fds[1+i].DataTypeOID
		switch {
		case c.Kind == schema.KindInt && (oid == oidInt2 || oid == oidInt4 || oid == oidInt8):
		case c.Kind == schema.KindCategory && (oid == oidText || oid == oidBPChar || oid == oidVarchar || oid >= oidUser):
		default:
			want := "smallint, integer or bigint"
			if c.Kind == schema.KindCategory {
				want = "text, varchar, char or an enum"
			}
			return fmt.Errorf("%w: table %s: column %s of relation %s has type OID %d; a %s column must be %s", source.ErrDatabase, s.t.Name, c.Name, s.rel.Name, oid, c.Kind, want)
		}
	}
	return nil
}

func (s *Source) dbErr(what string, err error) error {
	return fmt.Errorf("%w: table %s: %s: %w", source.ErrDatabase, s.t.Name, what, err)
}

// Table implements source.Source.
func (s *Source) Table() schema.Table { return s.t }

// Close implements source.Source.
func (s *Source) Close() { s.pool.Close() }

// Keys implements source.Source: the relation's keys in byte order,
// each non-NULL, non-empty and distinct.
func (s *Source) Keys(ctx context.Context) (*source.Keys, error) {
	rows, err := s.pool.Query(ctx, pgsql.KeysSQL(s.rel))
	if err != nil {
		return nil, s.dbErr("reading keys", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id *string
		if err := rows.Scan(&id); err != nil {
			return nil, s.dbErr("reading keys", err)
		}
		pos := len(ids)
		switch {
		case id == nil:
			return nil, fmt.Errorf("%w: table %s, row %d (key position, not the id): the person key is NULL", source.ErrRow, s.t.Name, pos)
		case *id == "":
			return nil, fmt.Errorf("%w: table %s, row %d (key position, not the id): the person key is empty", source.ErrRow, s.t.Name, pos)
		case pos > 0 && ids[pos-1] == *id:
			return nil, fmt.Errorf("%w: table %s: rows %d and %d (key positions, not the ids) have the same person key; each person must appear once", source.ErrRow, s.t.Name, pos-1, pos)
		}
		ids = append(ids, *id)
	}
	if err := rows.Err(); err != nil {
		return nil, s.dbErr("reading keys", err)
	}
	return source.NewKeys(ids), nil
}

// Read implements source.Source with one query (pgsql.Build). A key of
// the snapshot the relation no longer holds reads as false and zeros; a
// key added since the snapshot is ignored.
func (s *Source) Read(ctx context.Context, keys *source.Keys, req source.Request) (*source.Rows, error) {
	q, err := pgsql.Build(s.t, s.rel, req.Locals, req.Columns)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", s.t.Name, err)
	}
	n := keys.Len()
	out := &source.Rows{Masks: make([][]bool, len(req.Locals)), Cols: make(map[string][]int64, len(req.Columns)+len(q.Extra))}
	var pushed []int // result column → condition
	for i, p := range q.Pushed {
		out.Masks[i] = make([]bool, n)
		if p {
			pushed = append(pushed, i)
		}
	}
	vcols := append(append([]string(nil), q.Columns...), q.Extra...)
	vals := make([][]int64, len(vcols))
	for i := range vcols {
		vals[i] = make([]int64, n)
	}
	var (
		key  string
		bad  *string
		m    = make([]bool, len(pushed))
		v    = make([]int64, len(vcols))
		dest = make([]any, 0, 2+len(m)+len(v))
	)
	dest = append(dest, &key, &bad)
	for i := range m {
		dest = append(dest, &m[i])
	}
	for i := range v {
		dest = append(dest, &v[i])
	}
	rows, err := s.pool.Query(ctx, q.SQL, q.Args...)
	if err != nil {
		return nil, s.dbErr("reading relation "+s.rel.Name, err)
	}
	defer rows.Close()
	seen := make([]bool, n)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, s.dbErr("reading relation "+s.rel.Name, err)
		}
		pos, ok := keys.Position(key)
		if !ok {
			continue // added since the epoch's alignment
		}
		if seen[pos] {
			return nil, fmt.Errorf("%w: table %s, row %d (key position, not the id): the person key appears twice in relation %s", source.ErrRow, s.t.Name, pos, s.rel.Name)
		}
		seen[pos] = true
		if bad != nil {
			c, _ := s.t.Column(*bad)
			return nil, fmt.Errorf("%w: table %s, row %d (key position, not the id): column %s: the value is NULL or outside the declared %s", source.ErrRow, s.t.Name, pos, *bad, declared(c))
		}
		for j, i := range pushed {
			out.Masks[i][pos] = m[j]
		}
		for i := range v {
			vals[i][pos] = v[i]
		}
	}
	if err := rows.Err(); err != nil {
		return nil, s.dbErr("reading relation "+s.rel.Name, err)
	}
	for i, c := range vcols {
		out.Cols[c] = vals[i]
	}
	for i, p := range q.Pushed {
		if p {
			continue
		}
		mask, err := source.EvalRows(req.Locals[i], n, func(col string, row int) int64 { return out.Cols[col][row] })
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", s.t.Name, err)
		}
		for row := range mask {
			out.Masks[i][row] = mask[row] && seen[row]
		}
	}
	return out, nil
}

// declared describes a column's bounds or domain for an error message.
func declared(c schema.Column) string {
	if c.Kind == schema.KindCategory {
		return fmt.Sprintf("domain (%d categories)", len(c.Categories))
	}
	return fmt.Sprintf("bounds %d..%d", c.Min, c.Max)
}
