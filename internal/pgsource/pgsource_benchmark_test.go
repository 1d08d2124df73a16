package pgsource_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/mpcq/mpcq/internal/demo"
	"github.com/mpcq/mpcq/internal/gen"
	"github.com/mpcq/mpcq/internal/pgsource"
	"github.com/mpcq/mpcq/internal/pgsql"
	"github.com/mpcq/mpcq/internal/pgtest"
	"github.com/mpcq/mpcq/internal/source"
	"github.com/mpcq/mpcq/internal/table"
	"github.com/mpcq/mpcq/plan"
)

// BenchmarkReadSpine reads what the bank's step of the spine query needs
// (cash_deposits_30d > 10000 and the column's values, for SUM) over the
// bank's rows of 100,000 synthetic people: from the CSV table in memory,
// and from PostgreSQL (one pushed-down query over loopback TCP
// connection, every row checked against the schema).
//
//	go test ./internal/pgsource -run '^$' -bench ReadSpine -benchtime 20x
func BenchmarkReadSpine(b *testing.B) {
	dir := b.TempDir()
	if _, err := gen.WriteDir(dir, 100000, 1); err != nil {
		b.Fatal(err)
	}
	tb, err := table.ReadSchema(filepath.Join(dir, gen.Bank+".schema.json"))
	if err != nil {
		b.Fatal(err)
	}
	d, err := table.LoadFile(filepath.Join(dir, gen.Bank+".csv"), tb)
	if err != nil {
		b.Fatal(err)
	}
	req := source.Request{
		Locals:  []plan.Expr{plan.Cmp{Table: gen.Bank, Left: plan.ACol{Column: "cash_deposits_30d"}, Op: plan.OpGt, Right: plan.AConst{V: 10000}}},
		Columns: []string{"cash_deposits_30d"},
	}
	srv := pgtest.Start(b)
	conn := pgtest.Conn(b, srv)
	if err := demo.CopyTable(context.Background(), conn, d); err != nil {
		b.Fatal(err)
	}
	pg, err := pgsource.Open(context.Background(), srv.ConnString("postgres"), tb, pgsql.Relation{Name: gen.Bank, Key: tb.Key})
	if err != nil {
		b.Fatal(err)
	}
	defer pg.Close()
	for _, src := range []struct {
		name string
		s    source.Source
	}{{"csv-memory", source.FromData(d)}, {"postgres", pg}} {
		keys, err := src.s.Keys(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		b.Run(src.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := src.s.Read(context.Background(), keys, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
