// Package transport holds the transport side of the daemons' gRPC streams:
// the message limits they share, how ciphertexts are batched into messages
// and reassembled into blocks, and how alignment lists are chunked, sent and
// received with bounded allocation. Pure conversion between domain types and
// protobuf messages is package wire.
package transport

import (
	"errors"
	"fmt"
	"io"

	"github.com/mpcq/mpcq/internal/wire"
	"github.com/mpcq/mpcq/mpc/align"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// MaxMessageBytes bounds every gRPC message: the largest single value is a
// public key (about 1.5 MiB for the default set) or a rotation key share;
// ciphertexts stream one block per message.
const MaxMessageBytes = 16 << 20

// AlignChunkElems is the number of 32-byte elements per alignment message.
const AlignChunkElems = 1 << 16

// RanksChunk is the number of ranks per message.
const RanksChunk = 1 << 18

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

// MaxBatchBytes bounds the ciphertext bytes of one message.
const MaxBatchBytes = 8 << 20

// Batches splits n items of size bytes each into [lo, hi) ranges of at
// most MaxBatchBytes (at least one item per batch).
func Batches(n, size int) [][2]int {
	per := max(1, MaxBatchBytes/max(1, size))
	var out [][2]int
	for lo := 0; lo < n; lo += per {
		out = append(out, [2]int{lo, min(lo+per, n)})
	}
	return out
}

// Assembler collects a block's ciphertexts sent in several messages.
type Assembler struct {
	parts map[uint32][][]byte
	got   map[uint32]int
}

// NewAssembler returns an empty assembler.
func NewAssembler() *Assembler {
	return &Assembler{parts: map[uint32][][]byte{}, got: map[uint32]int{}}
}

// Add records a message's ciphertexts and returns the block's complete
// list once every one of total has arrived.
func (a *Assembler) Add(block, offset, total uint32, cts [][]byte, want int) ([][]byte, bool, error) {
	if int(total) != want {
		return nil, false, fmt.Errorf("block %d announces %d ciphertexts, want %d", block, total, want)
	}
	if int(offset)+len(cts) > want || len(cts) == 0 {
		return nil, false, fmt.Errorf("block %d: ciphertexts %d..%d out of range 0..%d", block, offset, int(offset)+len(cts)-1, want-1)
	}
	p := a.parts[block]
	if p == nil {
		p = make([][]byte, want)
		a.parts[block] = p
	}
	for i, b := range cts {
		if p[int(offset)+i] != nil {
			return nil, false, fmt.Errorf("block %d: ciphertext %d sent twice", block, int(offset)+i)
		}
		p[int(offset)+i] = b
	}
	a.got[block] += len(cts)
	if a.got[block] < want {
		return nil, false, nil
	}
	delete(a.parts, block)
	delete(a.got, block)
	return p, true, nil
}

// Pending is the number of blocks started but not complete.
func (a *Assembler) Pending() int { return len(a.parts) }

// MaxListElems bounds an alignment list.
const MaxListElems = 50_000_000

// ErrBadList is wrapped by errors about an alignment list's content.
var ErrBadList = errors.New("bad alignment list")

// ListSender is a stream that sends alignment chunks.
type ListSender interface{ Send(*pb.AlignChunk) error }

// ListReceiver is a stream that receives alignment chunks.
type ListReceiver interface {
	Recv() (*pb.AlignChunk, error)
}

// SendList sends a list in chunks, the chain in the first.
func SendList(st ListSender, chain align.Provenance, elems [][]byte) error {
	for i, chunk := range ChunkElems(elems) {
		m := &pb.AlignChunk{Elems: chunk}
		if i == 0 {
			m.Provenance = wire.ProvenanceToProto(chain)
		}
		if err := st.Send(m); err != nil {
			return err
		}
	}
	return nil
}

// RecvList reads a chunked list until the end of the stream, never
// allocating by more than the announced size allows.
func RecvList(st ListReceiver) (align.Provenance, [][]byte, error) {
	return RecvListProgress(st, nil)
}

// RecvListProgress is RecvList that calls progress (when not nil) with the
// number of elements of each chunk received.
func RecvListProgress(st ListReceiver, progress func(n int)) (align.Provenance, [][]byte, error) {
	var chain align.Provenance
	var elems [][]byte
	for i := 0; ; i++ {
		m, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return chain, elems, nil
		}
		if err != nil {
			return chain, nil, err
		}
		if i == 0 {
			if chain, err = wire.ProvenanceFromProto(m.Provenance); err != nil {
				return chain, nil, fmt.Errorf("%w: %v", ErrBadList, err)
			}
			if chain.Size > MaxListElems {
				return chain, nil, fmt.Errorf("%w: list announces %d elements, more than the limit %d", ErrBadList, chain.Size, MaxListElems)
			}
			elems = make([][]byte, 0, min(int(chain.Size), 1<<20))
		}
		part, err := SplitElems(m.Elems)
		if err != nil {
			return chain, nil, fmt.Errorf("%w: %v", ErrBadList, err)
		}
		if len(elems)+len(part) > int(chain.Size) {
			return chain, nil, fmt.Errorf("%w: list is longer than the %d elements its origin announced", ErrBadList, chain.Size)
		}
		elems = append(elems, part...)
		if progress != nil {
			progress(len(part))
		}
	}
}
