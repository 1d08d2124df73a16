package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/mpcq/mpcq/internal/gen"
	"github.com/mpcq/mpcq/internal/pgserver"
	"github.com/mpcq/mpcq/internal/table"
	"github.com/mpcq/mpcq/party"
	"github.com/mpcq/mpcq/schema"
)

// PartyRole is the read-only role the demo's parties connect as: SELECT
// on their relations, nothing else (docs/postgres.md).
const PartyRole = "mpcq_party"

// Postgres is the demo's own PostgreSQL server, in DIR/postgres.
type Postgres struct {
	*pgserver.Server
}

// StartPostgres starts a PostgreSQL server in l's directory (DIR/postgres:
// data, unix socket and log), loads the tables of the given parties from
// their CSVs (COPY through pgx.CopyFrom: key text, int columns bigint,
// category columns text), grants the read-only PartyRole SELECT on them
// and rewrites those parties' configs to read their table from it. Stop
// the server with Stop.
func StartPostgres(ctx context.Context, l *Layout, parties []string) (*Postgres, error) {
	for _, p := range parties {
		if !slices.Contains(l.Parties, p) {
			return nil, fmt.Errorf("demo: no party %q (parties: %v)", p, l.Parties)
		}
	}
	srv, err := pgserver.Start(ctx, l.Path("postgres"))
	if err != nil {
		return nil, fmt.Errorf("demo: starting PostgreSQL: %w", err)
	}
	pg := &Postgres{srv}
	if err := pg.load(ctx, l, parties); err != nil {
		_ = srv.Stop()
		return nil, err
	}
	return pg, nil
}

// PartyConn is the connection string of the parties' read-only role.
func (pg *Postgres) PartyConn() string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=%s dbname=postgres sslmode=disable", pg.Port, PartyRole)
}

func (pg *Postgres) load(ctx context.Context, l *Layout, parties []string) error {
	conn, err := pgx.Connect(ctx, pg.ConnString("postgres"))
	if err != nil {
		return fmt.Errorf("demo: connecting to PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DO $$ BEGIN CREATE ROLE "+PartyRole+" LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$"); err != nil {
		return fmt.Errorf("demo: creating role %s: %w", PartyRole, err)
	}
	for _, name := range parties {
		t, err := table.ReadSchema(l.Path("data", name+".schema.json"))
		if err != nil {
			return err
		}
		d, err := table.LoadFile(l.DataCSV(name), t)
		if err != nil {
			return err
		}
		if err := CopyTable(ctx, conn, d); err != nil {
			return err
		}
		if _, err := conn.Exec(ctx, "GRANT SELECT ON "+pgx.Identifier{t.Name}.Sanitize()+" TO "+PartyRole); err != nil {
			return fmt.Errorf("demo: granting SELECT on %s: %w", t.Name, err)
		}
		if err := pg.configure(l, name); err != nil {
			return err
		}
	}
	return nil
}

// CopyTable creates table d.Table.Name (dropping one of that name) and
// copies d's rows into it: the key as text, int columns as bigint,
// category columns as text (the category name).
func CopyTable(ctx context.Context, conn *pgx.Conn, d *table.Data) error {
	t := d.Table
	id := pgx.Identifier{t.Name}.Sanitize()
	ddl := "CREATE TABLE " + id + " (" + pgx.Identifier{t.Key}.Sanitize() + " text PRIMARY KEY"
	cols := []string{t.Key}
	for _, c := range t.Columns {
		typ := "bigint"
		if c.Kind == schema.KindCategory {
			typ = "text"
		}
		ddl += ", " + pgx.Identifier{c.Name}.Sanitize() + " " + typ + " NOT NULL"
		cols = append(cols, c.Name)
	}
	ddl += ")"
	if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+id); err != nil {
		return fmt.Errorf("demo: table %s: %w", t.Name, err)
	}
	if _, err := conn.Exec(ctx, ddl); err != nil {
		return fmt.Errorf("demo: table %s: %w", t.Name, err)
	}
	n, err := conn.CopyFrom(ctx, pgx.Identifier{t.Name}, cols, pgx.CopyFromSlice(d.Len(), func(i int) ([]any, error) {
		row := make([]any, 1+len(t.Columns))
		row[0] = d.IDs[i]
		for j, c := range t.Columns {
			v := d.Cols[c.Name][i]
			if c.Kind == schema.KindCategory {
				row[1+j] = c.Categories[v]
			} else {
				row[1+j] = v
			}
		}
		return row, nil
	}))
	if err != nil {
		return fmt.Errorf("demo: copying table %s: %w", t.Name, err)
	}
	if int(n) != d.Len() {
		return fmt.Errorf("demo: copied %d of %d rows of table %s", n, d.Len(), t.Name)
	}
	return nil
}

// configure points a party's config at the server instead of its CSV.
func (pg *Postgres) configure(l *Layout, name string) error {
	b, err := os.ReadFile(l.PartyConfig(name))
	if err != nil {
		return err
	}
	var cfg party.Config
	if err := json.Unmarshal(b, &cfg); err != nil {
		return fmt.Errorf("demo: %s: %w", l.PartyConfig(name), err)
	}
	cfg.CSV = ""
	cfg.Postgres = &party.PostgresSource{Conn: pg.PartyConn(),
		Tables: []party.PostgresTable{{Table: name, Relation: "public." + name, Key: gen.KeyColumn}}}
	if err := os.Remove(l.PartyConfig(name)); err != nil {
		return err
	}
	return writeJSON(l.PartyConfig(name), cfg)
}
