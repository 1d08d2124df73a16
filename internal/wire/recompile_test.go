package wire

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mpcq/mpcq/internal/gen"
	"github.com/mpcq/mpcq/plan"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// TestRecompiled plays a coordinator that commits a plan other than the
// compilation of the analyst's SQL: a repeated term (the total counted
// twice under noise sized for once), a repeated group, a smaller declared
// maximum, or another schema for the checking party's own table. Each is
// refused; the honest plan passes.
func TestRecompiled(t *testing.T) {
	cs := gen.Consortium()
	lim := plan.Limits{Modulus: testT, Entities: 1000}
	const sql = "SELECT bank.district, COUNT(*), SUM(bank.balance) FROM telecom JOIN bank USING (person_id) WHERE telecom.calls_30d > 100 OR bank.accounts > 2 GROUP BY bank.district"
	p, honest, err := Compile(sql, cs, lim)
	if err != nil {
		t.Fatal(err)
	}
	if _, again, err := Compile(p.Canonical, cs, lim); err != nil || !proto.Equal(again, honest) {
		t.Fatalf("compiling the canonical text gives another plan (%v)", err)
	}
	bank, _ := cs.Table("bank")
	telecom, _ := cs.Table("telecom")
	if err := Recompiled(honest, bank, lim); err != nil {
		t.Fatalf("the honest plan: %v", err)
	}
	for name, mutate := range map[string]func(*pb.Plan){
		"a repeated term":   func(m *pb.Plan) { m.Terms = append(m.Terms, proto.Clone(m.Terms[0]).(*pb.Term)) },
		"a repeated group":  func(m *pb.Plan) { g := m.GroupBy[0]; g.Categories = append(g.Categories, g.Categories[0]) },
		"a smaller maximum": func(m *pb.Plan) { m.Sums[len(m.Sums)-1].Max /= 100 },
		"the bank's schema changed": func(m *pb.Plan) {
			for _, s := range m.Schema {
				if s.Name == "bank" {
					for _, c := range s.Columns {
						if c.Name == "balance" {
							c.Max /= 100
						}
					}
				}
			}
		},
		"no schema":        func(m *pb.Plan) { m.Schema = nil },
		"another sign":     func(m *pb.Plan) { m.Terms[0].Sign = -m.Terms[0].Sign },
		"another constant": func(m *pb.Plan) { m.Canonical += " " },
	} {
		t.Run(name, func(t *testing.T) {
			m := proto.Clone(honest).(*pb.Plan)
			mutate(m)
			if err := Recompiled(m, bank, lim); !errors.Is(err, ErrNotCompiled) {
				t.Fatalf("got %v, want ErrNotCompiled", err)
			}
		})
	}
	// A smaller bound in both the schema and the sums is consistent, but
	// the bank, whose column it is, refuses it; the telecom cannot tell.
	m := proto.Clone(honest).(*pb.Plan)
	for _, s := range m.Schema {
		for _, c := range s.Columns {
			if s.Name == "bank" && c.Name == "balance" {
				c.Max /= 100
			}
		}
	}
	for _, s := range m.Sums {
		if s.Column == "balance" {
			s.Max /= 100
		}
	}
	if err := Recompiled(m, bank, lim); !errors.Is(err, ErrNotCompiled) {
		t.Fatalf("the bank accepted a smaller declared maximum of its own column: %v", err)
	}
	if err := Recompiled(m, telecom, lim); err != nil {
		t.Fatalf("the telecom cannot know the bank's bounds, and the plan is consistent: %v", err)
	}
}

// BenchmarkRecompiled is what a party spends checking a plan against the
// analyst's SQL before its step and before its decryption share (the
// spine-like query with an OR across two institutions).
// go test ./internal/wire -run '^$' -bench Recompiled
func BenchmarkRecompiled(b *testing.B) {
	cs := gen.Consortium()
	lim := plan.Limits{Modulus: testT, Entities: 1_000_000}
	_, pp, err := Compile("SELECT COUNT(*), SUM(bank.balance) FROM telecom JOIN bank USING (person_id) JOIN utility USING (person_id) WHERE telecom.calls_30d > 100 OR bank.accounts > 2", cs, lim)
	if err != nil {
		b.Fatal(err)
	}
	bank, _ := cs.Table("bank")
	for b.Loop() {
		if err := Recompiled(pp, bank, lim); err != nil {
			b.Fatal(err)
		}
	}
}
