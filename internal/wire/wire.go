// Package wire converts between the domain types (schema, plan, alignment
// provenance) and their protobuf messages, and defines the hash of a plan
// the ledger commits (over its deterministic protobuf encoding). It is
// conversion only: no I/O; streaming and message limits are package stream.
package wire

import (
	"crypto/sha256"
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/mpcq/mpcq/mpc/align"
	"github.com/mpcq/mpcq/plan"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
	"github.com/mpcq/mpcq/schema"
)

// Hash is SHA-256, for public fingerprints of keys and values.
func Hash(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}

// TableToProto converts a table schema.
func TableToProto(t schema.Table) *pb.TableSchema {
	out := &pb.TableSchema{Name: t.Name, Key: t.Key}
	for _, c := range t.Columns {
		out.Columns = append(out.Columns, &pb.ColumnSchema{Name: c.Name, Kind: string(c.Kind), Min: c.Min, Max: c.Max, Categories: c.Categories})
	}
	return out
}

// TableFromProto converts and validates a table schema.
func TableFromProto(p *pb.TableSchema) (schema.Table, error) {
	if p == nil {
		return schema.Table{}, fmt.Errorf("missing table schema")
	}
	t := schema.Table{Name: p.Name, Key: p.Key}
	for _, c := range p.Columns {
		t.Columns = append(t.Columns, schema.Column{Name: c.Name, Kind: schema.Kind(c.Kind), Min: c.Min, Max: c.Max, Categories: c.Categories})
	}
	return t, t.Validate()
}

// PlanToProto converts a plan, encoding each term's local conditions.
func PlanToProto(p *plan.Plan) (*pb.Plan, error) {
	out := &pb.Plan{Tables: p.Tables, Canonical: p.Canonical}
	for _, c := range p.Where {
		out.Where = append(out.Where, &pb.Predicate{Table: c.Table, Column: c.Column, Op: string(c.Op), Value: c.Value})
	}
	for _, a := range p.Aggregates {
		out.Aggregates = append(out.Aggregates, &pb.Aggregate{Kind: string(a.Kind), Table: a.Table, Column: a.Column, Name: a.Name})
	}
	for _, j := range p.Joins {
		out.Joins = append(out.Joins, string(j))
	}
	for _, t := range p.Terms {
		pt := &pb.Term{Sign: int32(t.Sign)}
		for _, l := range t.Locals {
			b, err := plan.MarshalLocal(l)
			if err != nil {
				return nil, err
			}
			pt.Locals = append(pt.Locals, b)
		}
		out.Terms = append(out.Terms, pt)
	}
	for _, g := range p.GroupBy {
		out.GroupBy = append(out.GroupBy, &pb.GroupColumn{Table: g.Table, Column: g.Column, Categories: g.Categories, Name: g.Name})
	}
	for _, s := range p.Sums() {
		out.Sums = append(out.Sums, SumToProto(s))
	}
	return out, nil
}

// SumToProto converts a sum spec.
func SumToProto(s plan.Sum) *pb.SumSpec {
	return &pb.SumSpec{Kind: string(s.Kind), Table: s.Table, Column: s.Column}
}

// SumFromProto converts a sum spec received from the network.
func SumFromProto(s *pb.SumSpec) (plan.Sum, error) {
	switch plan.SumKind(s.GetKind()) {
	case plan.SumCount:
		if s.Table != "" || s.Column != "" {
			return plan.Sum{}, fmt.Errorf("plan: a count sum names no column")
		}
	case plan.SumValue, plan.SumSquares:
		if s.Table == "" || s.Column == "" {
			return plan.Sum{}, fmt.Errorf("plan: sum %q needs a table and column", s.Kind)
		}
	default:
		return plan.Sum{}, fmt.Errorf("plan: unknown sum kind %q", s.GetKind())
	}
	return plan.Sum{Kind: plan.SumKind(s.Kind), Table: s.Table, Column: s.Column}, nil
}

// WireTerm is a term as received: its sign and each table's encoded local
// condition (decoded only by that table's party, against its schema).
type WireTerm struct {
	Sign   int
	Locals [][]byte
}

// WirePlan is a plan received from the network: the shape of the circuit.
type WirePlan struct {
	Tables    []string
	Canonical string
	Terms     []WireTerm
	GroupBy   []plan.GroupCol
	Sums      []plan.Sum
	Proto     *pb.Plan
}

// PlanFromProto checks the shape of a plan received from the network.
func PlanFromProto(p *pb.Plan) (*WirePlan, error) {
	if p == nil || len(p.Tables) == 0 || len(p.Sums) == 0 || len(p.Terms) == 0 {
		return nil, fmt.Errorf("plan: missing tables, sums or terms")
	}
	w := &WirePlan{Tables: p.Tables, Canonical: p.Canonical, Proto: p}
	seen := map[string]bool{}
	for _, t := range p.Tables {
		if t == "" || seen[t] {
			return nil, fmt.Errorf("plan: table %q empty or repeated", t)
		}
		seen[t] = true
	}
	if len(p.Terms) > plan.MaxTerms {
		return nil, fmt.Errorf("plan: %d terms, at most %d", len(p.Terms), plan.MaxTerms)
	}
	for i, t := range p.Terms {
		if t.Sign != 1 && t.Sign != -1 {
			return nil, fmt.Errorf("plan: term %d has sign %d", i, t.Sign)
		}
		if len(t.Locals) != len(p.Tables) {
			return nil, fmt.Errorf("plan: term %d has %d local conditions for %d tables", i, len(t.Locals), len(p.Tables))
		}
		w.Terms = append(w.Terms, WireTerm{Sign: int(t.Sign), Locals: t.Locals})
	}
	groups := 1
	for i, g := range p.GroupBy {
		if !seen[g.Table] || g.Column == "" || len(g.Categories) == 0 {
			return nil, fmt.Errorf("plan: group column %d is not a column of a joined table with categories", i)
		}
		groups *= len(g.Categories)
		if groups > plan.MaxGroups {
			return nil, fmt.Errorf("plan: more than %d groups", plan.MaxGroups)
		}
		w.GroupBy = append(w.GroupBy, plan.GroupCol{Table: g.Table, Column: g.Column, Categories: g.Categories, Name: g.Name})
	}
	for _, s := range p.Sums {
		sum, err := SumFromProto(s)
		if err != nil {
			return nil, err
		}
		if sum.Table != "" && !seen[sum.Table] {
			return nil, fmt.Errorf("plan: sum over %s, which is not joined", sum.Table)
		}
		w.Sums = append(w.Sums, sum)
	}
	return w, nil
}

// GroupSizes lists the number of categories of each GROUP BY column.
func (w *WirePlan) GroupSizes() []int {
	out := make([]int, len(w.GroupBy))
	for i, g := range w.GroupBy {
		out[i] = len(g.Categories)
	}
	return out
}

// Groups is the number of groups.
func (w *WirePlan) Groups() int {
	n := 1
	for _, s := range w.GroupSizes() {
		n *= s
	}
	return n
}

// TableIndex is the position of a table in Tables, or -1.
func (w *WirePlan) TableIndex(t string) int {
	for i, x := range w.Tables {
		if x == t {
			return i
		}
	}
	return -1
}

// ProvenanceToProto converts an alignment provenance.
func ProvenanceToProto(c align.Provenance) *pb.AlignProvenance {
	out := &pb.AlignProvenance{EpochId: c.Epoch, Origin: c.Origin, Size: c.Size}
	for _, h := range c.Hops {
		out.Hops = append(out.Hops, &pb.AlignHop{Signer: h.Signer, ElemsHash: append([]byte(nil), h.ElemsHash[:]...), Signature: h.Sig})
	}
	return out
}

// ProvenanceFromProto converts an alignment chain received from the network.
func ProvenanceFromProto(p *pb.AlignProvenance) (align.Provenance, error) {
	if p == nil {
		return align.Provenance{}, fmt.Errorf("alignment list without its provenance")
	}
	c := align.Provenance{Epoch: p.EpochId, Origin: p.Origin, Size: p.Size}
	for i, h := range p.Hops {
		if len(h.ElemsHash) != 32 {
			return align.Provenance{}, fmt.Errorf("alignment chain hop %d: list hash is %d bytes, want 32", i, len(h.ElemsHash))
		}
		var eh [32]byte
		copy(eh[:], h.ElemsHash)
		c.Hops = append(c.Hops, align.Hop{Signer: h.Signer, ElemsHash: eh, Sig: h.Signature})
	}
	return c, nil
}

// PlanHash is the hash of a plan as committed on the ledger:
// SHA-256 of its deterministic protobuf encoding.
func PlanHash(p *pb.Plan) ([32]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(p)
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(b), nil
}

// EpochNumber maps an epoch id ("e-" and 16 hex digits) to the number the
// ledger records.
func EpochNumber(id string) (uint64, error) {
	n, err := strconv.ParseUint(strings.TrimPrefix(id, "e-"), 16, 64)
	if err != nil || !strings.HasPrefix(id, "e-") {
		return 0, fmt.Errorf("epoch id %q is not e-<hex>", id)
	}
	return n, nil
}
