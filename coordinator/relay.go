package coordinator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/mpcq/mpcq/internal/chain"
	"github.com/mpcq/mpcq/internal/transport"
	"github.com/mpcq/mpcq/internal/wire"
	"github.com/mpcq/mpcq/mpc"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// The relay of the party chain: the coordinator opens one QueryStep stream
// per party, hands each the previous party's output map, forwards every
// block from party i to party i+1 as it arrives and assembles the last
// party's sums. The bookkeeping (output maps, byte counts, the assembly
// of the sums, which failure to report) is pure; runChain and its helpers
// only move messages.

// chainResult is what the chain hands to aggregation: the last party's
// sums at the decryption level, the output → sum index map, and the bytes
// each party sent.
type chainResult struct {
	packed []*rlwe.Ciphertext
	raw    [][]byte // packed, as the last party sent and signed them
	sigs   [][]byte // the last party's signature of each
	outMap []uint32
	sent   *byteCount
	// opened is when every party's stream was open and its output map
	// checked; first when the first party's was (it then encrypts);
	// done[i] when party i's stream ended (its last block out).
	opened, first time.Time
	done          []time.Time
}

// runChain drives the chain of party steps, forwarding each party's blocks
// to the next as they arrive.
func runChain(ctx context.Context, params *mpc.Params, header *pb.QueryHeader, chain []*partyConn, outputs, packed int, progress func(string, string)) (*chainResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	streams, outMap, first, err := openChain(ctx, header, chain, outputs)
	if err != nil {
		return nil, err
	}
	opened := time.Now()
	done := make([]time.Time, len(chain))
	sent := newByteCount()
	var wg sync.WaitGroup
	errs := make([]error, len(chain))
	for i := 0; i < len(chain)-1; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var report func(int)
			if i == 0 {
				report = func(blocks int) {
					if blocks%16 == 0 {
						progress("chain", fmt.Sprintf("%d blocks from %s", blocks, chain[i].name))
					}
				}
			}
			if errs[i] = forward(streams[i], streams[i+1], chain[i].name, chain[i+1].name, sent, report); errs[i] != nil {
				cancel()
			}
			done[i] = time.Now()
		}()
	}
	last := chain[len(chain)-1]
	sums := newPackedAssembly(packed)
	lastErr := receiveSums(streams[len(chain)-1], last.name, sums, sent)
	done[len(chain)-1] = time.Now()
	if lastErr != nil {
		cancel()
	}
	wg.Wait()
	// Report a real failure, not the cancellations it caused elsewhere.
	if err := firstCause(append(errs, lastErr)...); err != nil {
		return nil, err
	}
	cts, err := sums.decode(params, len(chain))
	if err != nil {
		return nil, partyFailed(last.name, err)
	}
	return &chainResult{packed: cts, raw: sums.final, sigs: sums.sigs, outMap: outMap, sent: sent, opened: opened, first: first, done: done}, nil
}

// headerAt is the header for the party at position i of the chain, which
// receives the output map of the party before it.
func headerAt(header *pb.QueryHeader, i int, inMap []uint32) *pb.QueryHeader {
	h := proto.Clone(header).(*pb.QueryHeader)
	h.Position = uint32(i)
	h.InMap = inMap
	return h
}

// openChain opens a QueryStep stream to every party at once, sending each
// its header with the input map the committed plan implies (chain.Wiring:
// every party derives the same and refuses any other) and checking that
// the output map each answers is the plan's; it returns the streams, the
// last party's output map and when the first party's output map arrived
// (it has checked its header and starts encrypting). The first party gets
// no blocks and its send side is closed at once. Opening the parties one
// after another, each waiting for the previous one's map, cost a header
// check per party on every query.
func openChain(ctx context.Context, header *pb.QueryHeader, parties []*partyConn, outputs int) ([]pb.Party_QueryStepClient, []uint32, time.Time, error) {
	var first time.Time
	wp, err := wire.PlanFromProto(header.Plan)
	if err != nil {
		return nil, nil, first, err
	}
	_, outMaps, err := chain.Wiring(wp)
	if err != nil {
		return nil, nil, first, err
	}
	if len(outMaps) != len(parties) {
		return nil, nil, first, fmt.Errorf("the plan's chain has %d parties, the query %d", len(outMaps), len(parties))
	}
	streams := make([]pb.Party_QueryStepClient, len(parties))
	// No cancellation on a party's failure: the others only check their
	// headers, and the first failure is the one reported.
	var g errgroup.Group
	for i, pc := range parties {
		g.Go(func() error {
			var inMap []uint32
			if i > 0 {
				inMap = outMaps[i-1]
			}
			st, err := pc.client.QueryStep(ctx, relayCodec())
			if err != nil {
				return partyFailed(pc.name, err)
			}
			if err := st.Send(&pb.BlockMessage{Header: headerAt(header, i, inMap)}); err != nil {
				_, rerr := st.Recv()
				return partyFailed(pc.name, errors.Join(err, rerr))
			}
			if i == 0 {
				if err := st.CloseSend(); err != nil {
					return partyFailed(pc.name, err)
				}
			}
			m, err := st.Recv()
			if err != nil {
				return partyFailed(pc.name, err)
			}
			if i == 0 {
				first = time.Now()
			}
			if err := checkOutMap(m.OutMap, outputs); err != nil {
				return partyFailed(pc.name, err)
			}
			if !slices.Equal(m.OutMap, outMaps[i]) {
				return partyFailed(pc.name, fmt.Errorf("output map %v, the plan implies %v", chain.Short(m.OutMap), chain.Short(outMaps[i])))
			}
			streams[i] = st
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, first, err
	}
	return streams, outMaps[len(parties)-1], first, nil
}

// forward relays every block from one party's stream to the next party's
// as the bytes it received (passthrough: nothing is decoded), until the
// first party is done, then closes the next party's send side.
// report, if set, hears the count of blocks forwarded so far.
func forward(from, to pb.Party_QueryStepClient, fromName, toName string, sent *byteCount, report func(blocks int)) error {
	blocks := 0
	for {
		var f frame
		err := from.RecvMsg(&f)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return partyFailed(fromName, err)
		}
		sent.addBytes(fromName, f.Len())
		// SendMsg takes the frame's bytes (the codec hands them to gRPC,
		// which frees them once written).
		if err := to.SendMsg(&f); err != nil {
			if f.data != nil {
				f.release()
			}
			// The stream's own reader reports why; a failed send only
			// means the next party stopped listening.
			return partyFailed(toName, fmt.Errorf("stopped receiving blocks: %w", err))
		}
		blocks++
		if report != nil {
			report(blocks)
		}
	}
	if err := to.CloseSend(); err != nil {
		return partyFailed(toName, err)
	}
	return nil
}

// receiveSums reads the last party's packed totals into asm until the party is
// done.
func receiveSums(st pb.Party_QueryStepClient, name string, asm *packedAssembly, sent *byteCount) error {
	for {
		m, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return partyFailed(name, err)
		}
		sent.addBytes(name, proto.Size(m))
		if err := asm.add(m); err != nil {
			return partyFailed(name, err)
		}
	}
}

// byteCount counts the ciphertext bytes each party sent; it is safe for
// concurrent use.
type byteCount struct {
	mu sync.Mutex
	m  map[string]uint64
}

func newByteCount() *byteCount { return &byteCount{m: map[string]uint64{}} }

// add counts the bytes of cts as sent by party.
func (c *byteCount) add(party string, cts [][]byte) {
	n := 0
	for _, b := range cts {
		n += len(b)
	}
	c.addBytes(party, n)
}

// addBytes counts n bytes (a relayed message's, signature and framing
// included: about 100 bytes more than its ciphertexts) as sent by party.
func (c *byteCount) addBytes(party string, n int) {
	c.mu.Lock()
	c.m[party] += uint64(n)
	c.mu.Unlock()
}

// of returns the bytes each named party sent, in the order of names.
func (c *byteCount) of(names []string) []uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]uint64, len(names))
	for i, n := range names {
		out[i] = c.m[n]
	}
	return out
}

// packedAssembly collects the last party's packed totals: count
// ciphertexts, one per message (offset = packed index), each with the
// last party's signature (chainsig.SignPacked), sent once.
type packedAssembly struct {
	asm   *transport.Assembler
	count int
	sigs  [][]byte
	final [][]byte
}

func newPackedAssembly(count int) *packedAssembly {
	return &packedAssembly{count: count, asm: transport.NewAssembler(), sigs: make([][]byte, count)}
}

// add takes one message of the last party.
func (a *packedAssembly) add(m *pb.BlockMessage) error {
	if a.final != nil {
		return errors.New("packed totals sent twice")
	}
	if len(m.Ciphertexts) != 1 {
		return fmt.Errorf("a message of %d packed ciphertexts, want one per message (each signed)", len(m.Ciphertexts))
	}
	raws, complete, err := a.asm.Add(0, m.Offset, m.Total, m.Ciphertexts, a.count)
	if err != nil {
		return err
	}
	a.sigs[m.Offset] = m.Signature
	if complete {
		a.final = raws
	}
	return nil
}

// decode returns the complete packed totals as ciphertexts at the
// decryption level of a chain of chainLen parties, with their raw bytes
// and the last party's signatures.
func (a *packedAssembly) decode(params *mpc.Params, chainLen int) ([]*rlwe.Ciphertext, error) {
	if a.final == nil {
		return nil, errors.New("no result")
	}
	fresh, err := params.FreshLevel(chainLen)
	if err != nil {
		return nil, err
	}
	scale := params.ScaleAt(fresh, mpc.DecryptLevel)
	cts := make([]*rlwe.Ciphertext, len(a.final))
	for i, b := range a.final {
		if cts[i], err = params.UnmarshalCiphertext(b, mpc.DecryptLevel, scale); err != nil {
			return nil, err
		}
	}
	return cts, nil
}

// checkOutMap checks a party's output map: one entry per output, naming
// exactly the ciphertexts 0..d-1 for some d ≤ outputs.
func checkOutMap(m []uint32, outputs int) error {
	if len(m) != outputs {
		return fmt.Errorf("output map of %d entries for %d outputs", len(m), outputs)
	}
	seen := make([]bool, outputs)
	distinct := 0
	for _, v := range m {
		if int(v) >= outputs {
			return fmt.Errorf("output map names ciphertext %d of at most %d", v, outputs)
		}
		if !seen[v] {
			seen[v] = true
			distinct++
		}
	}
	for i := 0; i < distinct; i++ {
		if !seen[i] {
			return fmt.Errorf("output map skips ciphertext %d", i)
		}
	}
	return nil
}

// partyFailed names the party a step failed at. The error matches ErrParty
// and its *mpc.PartyError names the party.
func partyFailed(party string, err error) error {
	return fmt.Errorf("%w: %w", ErrParty, &mpc.PartyError{Party: party, Err: err})
}

// partyOf returns the party an error names, or "".
func partyOf(err error) string {
	var pe *mpc.PartyError
	if errors.As(err, &pe) {
		return pe.Party
	}
	return ""
}

// isEcho reports whether err is only the cancellation another failure caused.
func isEcho(err error) bool {
	return errors.Is(err, context.Canceled) || status.Code(err) == codes.Canceled || status.Code(errors.Unwrap(err)) == codes.Canceled
}

// firstCause returns the first error that is not a cancellation echo, else
// the first error.
func firstCause(errs ...error) error {
	var first error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if first == nil {
			first = err
		}
		var pe *mpc.PartyError
		if errors.As(err, &pe) && isEcho(pe.Err) {
			continue
		}
		if !isEcho(err) {
			return err
		}
	}
	return first
}
