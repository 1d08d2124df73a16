package console

import (
	"context"
	"fmt"

	"github.com/mpcq/mpcq/internal/auditor"
	"github.com/mpcq/mpcq/internal/wire"
	"github.com/mpcq/mpcq/plan"
	"github.com/mpcq/mpcq/schema"
)

// SchemaSource is a Backend that can also give the consortium schema, so
// that the query page shows the plan per institution. ProfileBackend is
// one (it asks the coordinator).
type SchemaSource interface {
	Schema(ctx context.Context) (schema.Consortium, error)
}

// Schema implements SchemaSource.
func (b *ProfileBackend) Schema(ctx context.Context) (schema.Consortium, error) {
	return b.Profile.Schema(ctx)
}

// PlanView is a query's plan per institution, compiled again from the
// opened canonical SQL against the consortium's current schema, and
// whether it hashes to the plan hash the QUERY entry commits (the plan
// every party ran: each party recompiles it too before it works).
type PlanView struct {
	Institutions []Institution
	// Matches says the recompiled plan is the committed one; when false,
	// Note says why (for example the schema changed since the query).
	Matches bool
	Note    string
}

// Institution is what one table's party was asked: its conditions, the
// columns it read, and the sums over its columns.
type Institution struct {
	Table      string
	Conditions []string
	Columns    []string
	Sums       []string
}

// planView compiles a query's opened SQL for the limits its plan was made
// for (the modulus and its epoch's union size: they decide the digit
// splits); every text is escaped. With zero limits (the epoch unknown) it
// compiles without splits, and a split plan shows as not matching.
func planView(sql string, committed [32]byte, cs schema.Consortium, l plan.Limits) (*PlanView, error) {
	if l.Modulus == 0 || l.Entities == 0 {
		l = plan.Limits{Modulus: ^uint64(0), Entities: 1}
	}
	p, pp, err := wire.Compile(sql, cs, l)
	if err != nil {
		return nil, fmt.Errorf("compiling the opened SQL against the current schema: %w", err)
	}
	h, err := wire.PlanHash(pp)
	if err != nil {
		return nil, err
	}
	v := &PlanView{Matches: h == committed}
	if !v.Matches {
		v.Note = "the SQL compiled against today's schema does not hash to the committed plan: the schema changed since, the query's epoch is not on this ledger copy (so its digit splits cannot be recomputed), or the coordinator committed another plan (the parties would have refused it)"
	}
	for _, name := range p.Tables {
		t, _ := cs.Table(name)
		in := Institution{Table: auditor.Escape(name)}
		for _, l := range p.LocalsFor(name) {
			in.Conditions = append(in.Conditions, auditor.Escape(plan.FormatLocal(l, t)))
		}
		for _, c := range p.ColumnsFor(name) {
			in.Columns = append(in.Columns, auditor.Escape(c))
		}
		for _, s := range p.Sums() {
			if s.Table == name {
				in.Sums = append(in.Sums, auditor.Escape(s.Label()))
			}
		}
		v.Institutions = append(v.Institutions, in)
	}
	return v, nil
}
