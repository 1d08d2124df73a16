// Package wire converts between the domain types (schema, plan, alignment
// chains) and their protobuf messages, and holds the transport limits the
// daemons share. It is conversion only: no I/O.
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

// MaxMessageBytes bounds every gRPC message: the largest single value is a
// public key (about 1.5 MiB for the default set) or a rotation key share;
// ciphertexts stream one block per message.
const MaxMessageBytes = 16 << 20

// AlignChunkElems is the number of 32-byte elements per alignment message.
const AlignChunkElems = 1 << 16

// RanksChunk is the number of ranks per message.
const RanksChunk = 1 << 18

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

// PlanToProto converts a plan.
func PlanToProto(p *plan.Plan) *pb.Plan {
	out := &pb.Plan{Tables: p.Tables, Canonical: p.Canonical}
	for _, c := range p.Where {
		out.Where = append(out.Where, &pb.Predicate{Table: c.Table, Column: c.Column, Op: string(c.Op), Value: c.Value})
	}
	for _, a := range p.Aggregates {
		out.Aggregates = append(out.Aggregates, &pb.Aggregate{Kind: string(a.Kind), Table: a.Table, Column: a.Column, Name: a.Name})
	}
	return out
}

// PlanFromProto converts a plan received from the network. It checks the
// shape only; the receiver checks names against what it knows.
func PlanFromProto(p *pb.Plan) (*plan.Plan, error) {
	if p == nil || len(p.Tables) == 0 || len(p.Aggregates) == 0 {
		return nil, fmt.Errorf("plan: missing tables or aggregates")
	}
	out := &plan.Plan{Tables: p.Tables, Canonical: p.Canonical}
	for i, c := range p.Where {
		switch plan.Op(c.Op) {
		case plan.OpEq, plan.OpNe, plan.OpLt, plan.OpLe, plan.OpGt, plan.OpGe:
		default:
			return nil, fmt.Errorf("plan: predicate %d: unknown operator %q", i, c.Op)
		}
		out.Where = append(out.Where, plan.Cmp{Table: c.Table, Column: c.Column, Op: plan.Op(c.Op), Value: c.Value})
	}
	for i, a := range p.Aggregates {
		switch plan.AggKind(a.Kind) {
		case plan.AggCount:
		case plan.AggSum:
			if a.Table == "" || a.Column == "" {
				return nil, fmt.Errorf("plan: aggregate %d: SUM needs a table and column", i)
			}
		default:
			return nil, fmt.Errorf("plan: aggregate %d: unknown kind %q", i, a.Kind)
		}
		out.Aggregates = append(out.Aggregates, plan.Aggregate{Kind: plan.AggKind(a.Kind), Table: a.Table, Column: a.Column, Name: a.Name})
	}
	return out, nil
}

// ChainToProto converts an alignment signature chain.
func ChainToProto(c align.Chain) *pb.AlignChain {
	out := &pb.AlignChain{EpochId: c.Epoch, Origin: c.Origin, Size: c.Size}
	for _, h := range c.Hops {
		out.Hops = append(out.Hops, &pb.AlignHop{Signer: h.Signer, ElemsHash: append([]byte(nil), h.ElemsHash[:]...), Signature: h.Sig})
	}
	return out
}

// ChainFromProto converts an alignment chain received from the network.
func ChainFromProto(p *pb.AlignChain) (align.Chain, error) {
	if p == nil {
		return align.Chain{}, fmt.Errorf("alignment list without its signature chain")
	}
	c := align.Chain{Epoch: p.EpochId, Origin: p.Origin, Size: p.Size}
	for i, h := range p.Hops {
		if len(h.ElemsHash) != 32 {
			return align.Chain{}, fmt.Errorf("alignment chain hop %d: list hash is %d bytes, want 32", i, len(h.ElemsHash))
		}
		var eh [32]byte
		copy(eh[:], h.ElemsHash)
		c.Hops = append(c.Hops, align.Hop{Signer: h.Signer, ElemsHash: eh, Sig: h.Signature})
	}
	return c, nil
}

// SplitElems splits concatenated 32-byte elements.
func SplitElems(b []byte) ([][]byte, error) {
	if len(b)%32 != 0 {
		return nil, fmt.Errorf("alignment chunk of %d bytes is not a whole number of 32-byte elements", len(b))
	}
	out := make([][]byte, len(b)/32)
	for i := range out {
		out[i] = b[32*i : 32*i+32]
	}
	return out, nil
}

// ChunkElems concatenates elements into messages of AlignChunkElems each.
func ChunkElems(elems [][]byte) [][]byte {
	var out [][]byte
	for lo := 0; lo < len(elems) || lo == 0; lo += AlignChunkElems {
		hi := min(lo+AlignChunkElems, len(elems))
		b := make([]byte, 0, 32*(hi-lo))
		for _, e := range elems[lo:hi] {
			b = append(b, e...)
		}
		out = append(out, b)
		if hi == len(elems) {
			break
		}
	}
	return out
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
