package plan

import "fmt"

// Limits are the sizes a plan's results must fit in.
type Limits struct {
	// Modulus is the plaintext modulus T: results are computed mod T.
	Modulus uint64
	// Entities is an upper bound on the number of aligned entities (the
	// size of the union of all parties' person sets).
	Entities uint64
}

// aggOwnSum is the one sum that is the aggregate's value (COUNT, SUM), or
// nil for aggregates computed from several sums.
func aggOwnSum(a Aggregate) *Sum {
	switch a.Kind {
	case AggCount:
		return &Sum{Kind: SumCount}
	case AggSum:
		return &Sum{Kind: SumValue, Table: a.Table, Column: a.Column, Clip: a.Clip}
	}
	return nil
}

// aggLabel names an aggregate in messages: its text, and its output name
// when that differs.
func aggLabel(a Aggregate) string {
	t := aggText(a)
	if a.Name != "" && a.Name != t {
		return fmt.Sprintf("%s AS %s", t, quoteIdent(a.Name))
	}
	return t
}
