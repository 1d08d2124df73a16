package party

import (
	"context"
	"crypto/ed25519"
	"fmt"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"

	"github.com/mpcq/mpcq/internal/chain"
	"github.com/mpcq/mpcq/internal/transport"
	"github.com/mpcq/mpcq/internal/wire"
	"github.com/mpcq/mpcq/mpc"
	"github.com/mpcq/mpcq/mpc/chainsig"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
	"github.com/mpcq/mpcq/schema"
)

// step is this party's part of one query's chain, built from the query's
// header and this party's table, alignment and keys. It does no I/O: the
// driver (queryStep) feeds it blocks, runs them on its goroutines, and
// sends what it returns.
//
// Three roles, three code paths:
//   - the first party encrypts each block of its vectors (encrypt);
//   - a middle party multiplies each incoming block by its vectors and
//     rescales (multiply);
//   - the last party multiplies and sums over all blocks without
//     rescaling, then adds up its goroutines' sums and rescales once
//     (accumulate, Finish). In a chain of one, the first party is also
//     the last: it sums its encrypted blocks.
type step struct {
	params   *mpc.Params
	chainLen int
	pos      int
	entities int
	blocks   int
	inCount  int        // ciphertexts in each incoming block (0 for the first party)
	inLevel  int        // their level
	inScale  rlwe.Scale // and scale
	outs     []outKey   // the distinct ciphertexts this party outputs per block
	outMap   []uint32   // per output of the plan: its index in outs
	vecs     [][]uint64 // the distinct vectors, each encoded once per block
	usersOf  [][]int    // per vector: the indices in outs it multiplies
	auth     *chainAuth // signs what it sends, verifies what it receives
	layout   chain.Layout
	signs    []int // per term of the plan: its sign in the sum of products
	// pool, for the first party, holds precomputed encryptions of zero
	// (nil: encrypt every block afresh); encrypted, when set, is told of
	// each block encrypted, with or without a pool entry (metrics).
	pool      *mpc.EncPool
	encrypted func(hit bool)
}

// ErrChain is wrapped when the chain messages a party receives are not
// its predecessor's blocks each exactly once: a block out of range,
// repeated, or missing at the end. It wraps ErrBadRequest.
var ErrChain = fmt.Errorf("%w: chain messages", ErrBadRequest)

// chainAuth is a step's chain signatures: this party signs each message
// it sends under out, and accepts only messages its predecessor (key
// prev) signed under in. Package chainsig holds the statement.
type chainAuth struct {
	priv ed25519.PrivateKey
	out  chainsig.Binding
	prev ed25519.PublicKey // nil for the first party, which receives nothing
	in   chainsig.Binding
}

// newChainAuth binds a step's signatures to its header's query, the
// committed plan hash and its position; the predecessor's key comes from
// peers (the consortium's party certificates). A chain must name each
// party once, so no party's output can stand for another position's.
func newChainAuth(h *pb.QueryHeader, planHash [32]byte, priv ed25519.PrivateKey, peers map[string]ed25519.PublicKey) (*chainAuth, error) {
	seen := map[string]bool{}
	for _, p := range h.Chain {
		if seen[p] {
			return nil, fmt.Errorf("%w: chain %v names party %s twice", ErrBadRequest, h.Chain, p)
		}
		seen[p] = true
	}
	a := &chainAuth{priv: priv, out: chainsig.Binding{QueryID: h.QueryId, PlanHash: planHash, Position: h.Position}}
	if h.Position > 0 {
		prev := h.Chain[h.Position-1]
		if a.prev = peers[prev]; a.prev == nil {
			return nil, fmt.Errorf("%w: no certificate of party %s (the previous in the chain) among this party's peers", ErrBadRequest, prev)
		}
		a.in = chainsig.Binding{QueryID: h.QueryId, PlanHash: planHash, Position: h.Position - 1}
	}
	return a, nil
}

// sign signs one outgoing message.
func (st *step) sign(m *pb.BlockMessage) error {
	if st.auth == nil {
		return fmt.Errorf("step has no chain signing key")
	}
	m.Signature = chainsig.Sign(st.auth.priv, st.auth.out, chainsig.Ref{Block: m.Block, Offset: m.Offset, Total: m.Total}, m.Ciphertexts)
	return nil
}

// verify checks that an incoming message is the predecessor's, for this
// query, plan, block and place in the block.
func (st *step) verify(m *pb.BlockMessage) error {
	if st.auth == nil || st.auth.prev == nil {
		return fmt.Errorf("%w: no key of the previous party to verify block %d", chainsig.ErrBadSignature, m.Block)
	}
	return chainsig.Verify(st.auth.prev, st.auth.in, chainsig.Ref{Block: m.Block, Offset: m.Offset, Total: m.Total}, m.Ciphertexts, m.Signature)
}

// stepJob is one block to process: its index and, after the first party,
// the incoming ciphertexts.
type stepJob struct {
	block int
	in    []*rlwe.Ciphertext
}

// lane is one goroutine's state for a step: lattigo objects are not safe
// for concurrent use. It holds a worker, an encoding buffer and, for the
// last party, the running sums of the blocks this goroutine processed.
type lane struct {
	w   *mpc.Worker
	pt  *rlwe.Plaintext
	sum []*rlwe.Ciphertext
}

// newLanes returns n lanes, each with its own copy of base.
func newLanes(base *mpc.Worker, n int) []*lane {
	out := make([]*lane, max(n, 1))
	for i := range out {
		out[i] = &lane{w: base.Copy()}
	}
	return out
}

// newStep checks a query's header against this party (named self) and
// its keys and alignment, decodes the plan's parts that concern its table
// and builds its vectors.
//
// read returns the rows the step needs from the party's table (over the
// alignment's keys); it is called once, after the plan is checked.
func newStep(h *pb.QueryHeader, self string, k *keys, a *alignment, t schema.Table, read readFunc) (*step, error) {
	if err := checkHeader(h, self, k, a); err != nil {
		return nil, err
	}
	wp, err := wire.PlanFromProto(h.Plan)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPlan, err)
	}
	if len(wp.Tables) != len(h.Chain) {
		return nil, fmt.Errorf("%w: chain of %d parties for %d tables", ErrPlan, len(h.Chain), len(wp.Tables))
	}
	p := k.params
	st := &step{params: p, chainLen: len(h.Chain), pos: int(h.Position), entities: int(a.state.Entities)}
	st.blocks = p.Blocks(st.entities)
	for _, m := range h.InMap {
		st.inCount = max(st.inCount, int(m)+1)
	}
	sp, err := newStepPlan(wp, t, a.ranks, st.entities)
	if err != nil {
		return nil, err
	}
	if err := checkWiring(wp, t.Name, st.pos, h.InMap); err != nil {
		return nil, err
	}
	if st.inCount > sp.layout.N() {
		return nil, fmt.Errorf("%w: input map names %d ciphertexts for %d outputs", ErrBadRequest, st.inCount, sp.layout.N())
	}
	if st.first() {
		st.inCount = 0 // the first party receives nothing; its input map is unused
	}
	outs, specs, outMap, err := sp.stepOutputs(h.InMap, st.first(), st.inCount)
	if err != nil {
		return nil, err
	}
	st.outs, st.outMap = outs, outMap
	st.layout = sp.layout
	for _, term := range wp.Terms {
		st.signs = append(st.signs, term.Sign)
	}
	if err := sp.read(read); err != nil {
		return nil, err
	}
	if err := st.addVectors(sp, specs); err != nil {
		return nil, err
	}
	fresh, err := p.FreshLevel(st.chainLen)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	st.inLevel = fresh - st.pos + 1
	st.inScale = p.ScaleAt(fresh, st.inLevel)
	return st, nil
}

// checkHeader checks that a query's header is one, and is for this
// party's keys, its alignment and a place in the chain that names it.
func checkHeader(h *pb.QueryHeader, self string, k *keys, a *alignment) error {
	if h == nil {
		return fmt.Errorf("%w: the first message of a query step must be its header", ErrBadRequest)
	}
	switch {
	case h.CeremonyId != k.state.ID:
		return fmt.Errorf("%w: query for ceremony %q, this party holds keys of %q", ErrBadRequest, h.CeremonyId, k.state.ID)
	case h.EpochId != a.state.ID || h.Entities != a.state.Entities:
		return fmt.Errorf("%w: query for epoch %q (%d entities), this party is aligned in %q (%d)", ErrBadRequest, h.EpochId, h.Entities, a.state.ID, a.state.Entities)
	case len(h.Chain) < 1 || len(h.Chain) > mpc.MaxChain || int(h.Position) >= len(h.Chain) || h.Chain[h.Position] != self:
		return fmt.Errorf("%w: chain %v position %d does not name this party", ErrBadRequest, h.Chain, h.Position)
	}
	return nil
}

// addVectors builds the distinct vectors of st.outs: each is encoded once
// per block and multiplies every output that uses it (usersOf lists them).
func (st *step) addVectors(sp *stepPlan, specs []vecSpec) error {
	vecIdx := map[string]int{}
	for i, o := range st.outs {
		j, ok := vecIdx[o.vec]
		if !ok {
			v, err := sp.vector(specs[i], o.vec)
			if err != nil {
				return err
			}
			j = len(st.vecs)
			vecIdx[o.vec] = j
			st.vecs = append(st.vecs, v)
			st.usersOf = append(st.usersOf, nil)
		}
		st.usersOf[j] = append(st.usersOf[j], i)
	}
	return nil
}

func (st *step) first() bool { return st.pos == 0 }
func (st *step) last() bool  { return st.pos == st.chainLen-1 }

// generate is the first party's source of jobs: every block, in order.
func (st *step) generate(ctx context.Context, jobs chan<- stepJob) error {
	for b := range st.blocks {
		select {
		case jobs <- stepJob{block: b}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// check refuses a block out of range or with the wrong number of incoming
// ciphertexts.
func (st *step) check(j stepJob) error {
	if j.block < 0 || j.block >= st.blocks {
		return fmt.Errorf("%w: block %d is out of range 0..%d", ErrBadRequest, j.block, st.blocks-1)
	}
	if len(j.in) != st.inCount {
		return fmt.Errorf("%w: block %d has %d incoming ciphertexts, want %d", ErrBadRequest, j.block, len(j.in), st.inCount)
	}
	for i, ct := range j.in {
		if ct == nil || ct.Level() != st.inLevel {
			return fmt.Errorf("%w: block %d ciphertext %d is not at level %d", ErrBadRequest, j.block, i, st.inLevel)
		}
	}
	return nil
}

// Run is one job of the step on lane l: the last party accumulates the
// block; the others pass the messages that carry its outputs to send.
func (st *step) Run(l *lane, j stepJob, send func([]*pb.BlockMessage) error) error {
	if st.last() {
		return st.Accumulate(l, j)
	}
	cts, err := st.Block(l, j)
	if err != nil {
		return err
	}
	msgs, err := st.messages(j.block, cts)
	if err != nil {
		return err
	}
	return send(msgs)
}

// Packed is the last party's answer once every block is accumulated: it
// combines and packs Finish's sums (Pack, with packer, a worker holding
// the rotation keys) and returns the messages that carry the packed
// ciphertexts, each signed as the committed circuit's output
// (PackedMessages). Its unpacked sums never leave the party.
func (st *step) Packed(lanes []*lane, packer *mpc.Worker) ([]*pb.BlockMessage, error) {
	total, err := st.Finish(lanes)
	if err != nil {
		return nil, err
	}
	packed, err := st.Pack(packer, total)
	if err != nil {
		return nil, err
	}
	return st.PackedMessages(packed)
}

// Pack is the committed circuit's last, deterministic part, at the last
// party: for every (group, sum) in layout order (group major), Σ over the
// plan's terms of sign × the sum that output continues (outMap), then the
// slots of each summed and the totals packed into params.PackedCount
// ciphertexts at mpc.DecryptLevel. w needs the rotation keys. It does not
// modify sums.
func (st *step) Pack(w *mpc.Worker, sums []*rlwe.Ciphertext) ([]*rlwe.Ciphertext, error) {
	if !st.last() {
		return nil, fmt.Errorf("only the last party packs the totals")
	}
	if len(sums) != len(st.outs) {
		return nil, fmt.Errorf("%d sums for %d outputs", len(sums), len(st.outs))
	}
	l := st.layout
	n := l.Groups * l.Sums
	combined := make([]*rlwe.Ciphertext, n)
	for j := range n {
		g, sm := j/l.Sums, j%l.Sums
		cts := make([]*rlwe.Ciphertext, l.Terms)
		signs := make([]int, l.Terms)
		for k := range l.Terms {
			cts[k] = sums[st.outMap[l.Index(k, g, sm)]]
			signs[k] = 1
			if k < len(st.signs) {
				signs[k] = st.signs[k]
			}
		}
		var err error
		if combined[j], err = w.Combine(cts, signs); err != nil {
			return nil, fmt.Errorf("combining total %d: %w", j, err)
		}
	}
	packed := make([]*rlwe.Ciphertext, st.params.PackedCount(n))
	for i := range packed {
		lo, hi := st.params.PackedChunk(n, i)
		var err error
		if packed[i], err = w.Pack(combined[lo:hi]); err != nil {
			return nil, err
		}
	}
	return packed, nil
}

// PackedMessages encodes the packed ciphertexts one per message (block 0,
// offset = packed index, total = packed count), each signed with
// chainsig.SignPacked: every party checks that signature before it gives
// a decryption share.
func (st *step) PackedMessages(packed []*rlwe.Ciphertext) ([]*pb.BlockMessage, error) {
	if st.auth == nil {
		return nil, fmt.Errorf("step has no chain signing key")
	}
	out := make([]*pb.BlockMessage, len(packed))
	for i, ct := range packed {
		raw, err := st.params.MarshalCiphertext(ct)
		if err != nil {
			return nil, err
		}
		out[i] = &pb.BlockMessage{Offset: uint32(i), Total: uint32(len(packed)), Ciphertexts: [][]byte{raw},
			Signature: chainsig.SignPacked(st.auth.priv, st.auth.out, uint32(i), uint32(len(packed)), raw)}
	}
	return out, nil
}

// Block is a first or middle party's step on one block: the ciphertexts
// to send on, one per entry of outs.
func (st *step) Block(l *lane, j stepJob) ([]*rlwe.Ciphertext, error) {
	if err := st.check(j); err != nil {
		return nil, err
	}
	switch {
	case st.last():
		return nil, fmt.Errorf("the last party sums its blocks: Accumulate, not Block")
	case st.first():
		return st.encrypt(l, j.block)
	default:
		return st.multiply(l, j)
	}
}

// Accumulate is the last party's step on one block: it adds the block's
// outputs into the lane's sums.
func (st *step) Accumulate(l *lane, j stepJob) error {
	if err := st.check(j); err != nil {
		return err
	}
	switch {
	case !st.last():
		return fmt.Errorf("only the last party sums its blocks: Block, not Accumulate")
	case st.first():
		return st.encryptAndAdd(l, j.block)
	default:
		return st.mulAccumulate(l, j)
	}
}

// slice is block b's part of a vector.
func (st *step) slice(v []uint64, b int) []uint64 {
	slots := st.params.Slots()
	return v[b*slots : min((b+1)*slots, st.entities)]
}

// encrypt is the first party's step: each output is a fresh encryption of
// its vector's block. The block is encoded once per vector; each output
// adds it to its own encryption of zero from the pool (taken once, never
// reused), or is encrypted afresh when the pool is empty or absent.
func (st *step) encrypt(l *lane, block int) ([]*rlwe.Ciphertext, error) {
	level, err := st.params.FreshLevel(st.chainLen)
	if err != nil {
		return nil, err
	}
	cts := make([]*rlwe.Ciphertext, len(st.outs))
	for vi, users := range st.usersOf {
		if len(users) == 0 {
			continue
		}
		if l.pt, err = l.w.Encode(st.slice(st.vecs[vi], block), level, l.pt); err != nil {
			return nil, fmt.Errorf("block %d: %w", block, err)
		}
		for _, oi := range users {
			var hit bool
			if cts[oi], hit, err = l.w.EncryptPooled(st.pool, l.pt); err != nil {
				return nil, fmt.Errorf("block %d: %w", block, err)
			}
			if st.encrypted != nil {
				st.encrypted(hit)
			}
		}
	}
	return cts, nil
}

// multiply is a middle party's step: each output is the incoming
// ciphertext it continues times its vector's block, rescaled.
func (st *step) multiply(l *lane, j stepJob) ([]*rlwe.Ciphertext, error) {
	cts := make([]*rlwe.Ciphertext, len(st.outs))
	for vi, users := range st.usersOf {
		var err error
		if l.pt, err = l.w.Encode(st.slice(st.vecs[vi], j.block), st.inLevel, l.pt); err != nil {
			return nil, fmt.Errorf("block %d: %w", j.block, err)
		}
		for _, oi := range users {
			if cts[oi], err = l.w.MulBlock(j.in[st.outs[oi].in], l.pt); err != nil {
				return nil, fmt.Errorf("block %d: %w", j.block, err)
			}
		}
	}
	return cts, nil
}

// mulAccumulate is the last party's step after the first: multiply and
// accumulate at the incoming level; Finish rescales once per output.
func (st *step) mulAccumulate(l *lane, j stepJob) error {
	if l.sum == nil {
		l.sum = make([]*rlwe.Ciphertext, len(st.outs))
	}
	for vi, users := range st.usersOf {
		var err error
		if l.pt, err = l.w.Encode(st.slice(st.vecs[vi], j.block), st.inLevel, l.pt); err != nil {
			return fmt.Errorf("block %d: %w", j.block, err)
		}
		for _, oi := range users {
			if l.sum[oi], err = l.w.MulAccumulate(l.sum[oi], j.in[st.outs[oi].in], l.pt); err != nil {
				return fmt.Errorf("block %d: %w", j.block, err)
			}
		}
	}
	return nil
}

// encryptAndAdd is the step of a chain of one: encrypt, and sum.
func (st *step) encryptAndAdd(l *lane, block int) error {
	cts, err := st.encrypt(l, block)
	if err != nil {
		return err
	}
	if l.sum == nil {
		l.sum = cts
		return nil
	}
	for oi := range cts {
		if err := l.w.AddInto(l.sum[oi], cts[oi]); err != nil {
			return err
		}
	}
	return nil
}

// Finish is the last party's final step, once every block is accumulated:
// it adds up the lanes' sums and, after a multiplication, rescales each
// once. The result is one ciphertext per entry of outs.
func (st *step) Finish(lanes []*lane) ([]*rlwe.Ciphertext, error) {
	if !st.last() {
		return nil, fmt.Errorf("only the last party sums its blocks")
	}
	var total []*rlwe.Ciphertext
	var w *mpc.Worker
	for _, l := range lanes {
		if l.sum == nil {
			continue
		}
		if total == nil {
			total, w = l.sum, l.w
			continue
		}
		for oi := range l.sum {
			if err := w.AddInto(total[oi], l.sum[oi]); err != nil {
				return nil, err
			}
		}
	}
	if len(total) == 0 {
		return nil, fmt.Errorf("%w: no blocks to sum (no aligned people)", ErrBadRequest)
	}
	if st.first() {
		return total, nil
	}
	out := make([]*rlwe.Ciphertext, len(total))
	for oi, ct := range total {
		var err error
		if out[oi], err = w.RescaleOnce(ct); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// messages encodes a block's ciphertexts as the messages that carry them,
// each under transport.MaxBatchBytes. The last party's sums go out as
// block 0.
func (st *step) messages(block int, cts []*rlwe.Ciphertext) ([]*pb.BlockMessage, error) {
	raws := make([][]byte, len(cts))
	for i, ct := range cts {
		var err error
		if raws[i], err = st.params.MarshalCiphertext(ct); err != nil {
			return nil, err
		}
	}
	var out []*pb.BlockMessage
	for _, r := range transport.Batches(len(raws), len(raws[0])) {
		m := &pb.BlockMessage{Block: uint32(block), Offset: uint32(r[0]), Total: uint32(len(raws)), Ciphertexts: raws[r[0]:r[1]]}
		if err := st.sign(m); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// inbox checks and assembles the blocks a middle or last party receives:
// each message signed by the previous party for this query, plan, block
// and offset; each block once, in range, with exactly the ciphertexts the
// input map names, decoded at the level and scale this position expects;
// every block by the end.
type inbox struct {
	st   *step
	seen []bool
	got  int
	asm  *transport.Assembler
}

func (st *step) newInbox() *inbox {
	return &inbox{st: st, seen: make([]bool, st.blocks), asm: transport.NewAssembler()}
}

// add takes one received message. Once the message completes its block,
// it returns the block's job and true.
func (ib *inbox) add(m *pb.BlockMessage) (stepJob, bool, error) {
	if int(m.Block) >= ib.st.blocks || ib.seen[m.Block] {
		return stepJob{}, false, fmt.Errorf("%w: block %d is out of range 0..%d or repeated", ErrChain, m.Block, ib.st.blocks-1)
	}
	// Nothing the predecessor did not sign is assembled or decoded.
	if err := ib.st.verify(m); err != nil {
		return stepJob{}, false, err
	}
	raws, complete, err := ib.asm.Add(m.Block, m.Offset, m.Total, m.Ciphertexts, ib.st.inCount)
	if err != nil {
		return stepJob{}, false, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	if !complete {
		return stepJob{}, false, nil
	}
	in := make([]*rlwe.Ciphertext, len(raws))
	for i, b := range raws {
		if in[i], err = ib.st.params.UnmarshalCiphertext(b, ib.st.inLevel, ib.st.inScale); err != nil {
			return stepJob{}, false, fmt.Errorf("block %d ciphertext %d: %w", m.Block, i, err)
		}
	}
	ib.seen[m.Block] = true
	ib.got++
	return stepJob{block: int(m.Block), in: in}, true, nil
}

// close is called when the stream ends: every block must have arrived.
func (ib *inbox) close() error {
	if ib.got != ib.st.blocks {
		return fmt.Errorf("%w: received %d of %d blocks", ErrChain, ib.got, ib.st.blocks)
	}
	return nil
}
