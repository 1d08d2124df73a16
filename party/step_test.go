package party

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"
	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/mpcq/mpcq/internal/chain"
	"github.com/mpcq/mpcq/internal/source"
	"github.com/mpcq/mpcq/internal/table"
	"github.com/mpcq/mpcq/internal/wire"
	"github.com/mpcq/mpcq/mpc"
	"github.com/mpcq/mpcq/mpc/chainsig"
	"github.com/mpcq/mpcq/plan"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
	"github.com/mpcq/mpcq/schema"
)

// testSet is mpc's fast insecure parameter set, "for the sole purpose of
// fast testing": 4,096 slots per block.
const testSet = "insecure-test-n12"

// person is one entity of the test universe: its row in each table, or
// nil where the table does not hold it.
type person map[string]map[string]int64

// fixture is a consortium of three small tables held in memory, aligned
// on a union of entities that spans two blocks, with one key pair that
// stands for the collective key.
type fixture struct {
	params  *mpc.Params
	sk      *rlwe.SecretKey
	keys    *keys
	cs      schema.Consortium
	people  []person
	data    map[string]*table.Data
	aligned map[string]*alignment
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	params, err := mpc.NewParams(testSet)
	if err != nil {
		t.Fatal(err)
	}
	sk := params.NewSecretKey()
	kg := rlwe.NewKeyGenerator(params.BGV)
	pk := kg.GenPublicKeyNew(sk)
	evk := rlwe.NewMemEvaluationKeySet(nil, kg.GenGaloisKeysNew(params.GaloisElements(), sk)...)
	f := &fixture{params: params, sk: sk,
		keys: &keys{params: params, sk: sk, pk: pk, evk: evk, state: ceremonyState{ID: "c-test", ParamSet: testSet}},
		cs: schema.Consortium{Tables: []schema.Table{
			{Name: "ta", Key: "person_id", Columns: []schema.Column{
				{Name: "age", Kind: schema.KindInt, Min: 0, Max: 120},
				{Name: "region", Kind: schema.KindCategory, Categories: []string{"north", "south", "east"}},
			}},
			{Name: "tb", Key: "person_id", Columns: []schema.Column{{Name: "balance", Kind: schema.KindInt, Min: 0, Max: 1000}}},
			{Name: "tc", Key: "person_id", Columns: []schema.Column{{Name: "flag", Kind: schema.KindInt, Min: 0, Max: 1}}},
		}},
		data: map[string]*table.Data{}, aligned: map[string]*alignment{}}
	entities := params.Slots() + 200 // two blocks, the second partial
	rng := mrand.New(mrand.NewPCG(1, 2))
	presence := map[string]float64{"ta": 0.9, "tb": 0.8, "tc": 0.85}
	f.people = make([]person, entities)
	for i := range f.people {
		f.people[i] = person{}
		for _, tb := range f.cs.Tables {
			if rng.Float64() >= presence[tb.Name] {
				continue
			}
			row := map[string]int64{}
			for _, c := range tb.Columns {
				if c.Kind == schema.KindCategory {
					row[c.Name] = int64(rng.IntN(len(c.Categories)))
				} else {
					row[c.Name] = c.Min + rng.Int64N(c.Max-c.Min+1)
				}
			}
			f.people[i][tb.Name] = row
		}
	}
	for _, tb := range f.cs.Tables {
		d := &table.Data{Table: tb, Cols: map[string][]int64{}}
		var ranks []uint32
		for _, i := range rng.Perm(entities) { // rows in an order of their own
			row := f.people[i][tb.Name]
			if row == nil {
				continue
			}
			d.IDs = append(d.IDs, fmt.Sprintf("p%05d", i))
			for _, c := range tb.Columns {
				d.Cols[c.Name] = append(d.Cols[c.Name], row[c.Name])
			}
			ranks = append(ranks, uint32(i))
		}
		f.data[tb.Name] = d
		f.aligned[tb.Name] = &alignment{state: epochState{ID: "e-test", Entities: uint64(entities), Rows: d.Len()}, ranks: ranks}
	}
	return f
}

// plan parses sql and returns its wire form and chain order (party names
// are table names here).
func (f *fixture) plan(t testing.TB, sql string) (*pb.Plan, []string) {
	t.Helper()
	p, err := plan.Parse(sql, f.cs)
	if err != nil {
		t.Fatal(err)
	}
	pp, err := wire.PlanToProto(p)
	if err != nil {
		t.Fatal(err)
	}
	return pp, chain.Order(p)
}

// chainKeys are the test parties' Ed25519 keys, one per table name, made
// deterministically from the name.
func chainKeys() (map[string]ed25519.PrivateKey, map[string]ed25519.PublicKey) {
	priv, pub := map[string]ed25519.PrivateKey{}, map[string]ed25519.PublicKey{}
	for _, n := range []string{"ta", "tb", "tc"} {
		seed := sha256.Sum256([]byte("chain key " + n))
		priv[n] = ed25519.NewKeyFromSeed(seed[:])
		pub[n] = priv[n].Public().(ed25519.PublicKey)
	}
	return priv, pub
}

// newStep is newStep with the party's chain signatures bound to the plan.
func (f *fixture) newStep(t testing.TB, pl *pb.Plan, order []string, pos int, inMap []uint32) (*step, error) {
	t.Helper()
	h := f.header(pl, order, pos, inMap)
	st, err := newStep(h, order[pos], f.keys, f.aligned[order[pos]], f.data[order[pos]].Table, readData(f.data[order[pos]]))
	if err != nil {
		return nil, err
	}
	ph, err := wire.PlanHash(pl)
	if err != nil {
		t.Fatal(err)
	}
	priv, pub := chainKeys()
	if st.auth, err = newChainAuth(h, ph, priv[order[pos]], pub); err != nil {
		t.Fatal(err)
	}
	return st, nil
}

func (f *fixture) header(pl *pb.Plan, order []string, pos int, inMap []uint32) *pb.QueryHeader {
	return &pb.QueryHeader{QueryId: "q-test", Plan: pl, Chain: order, Position: uint32(pos), EpochId: "e-test",
		Entities: uint64(len(f.people)), CeremonyId: "c-test", InMap: inMap}
}

// decrypt returns the sum over all slots of ct, under the test key.
func (f *fixture) decrypt(t testing.TB, ct *rlwe.Ciphertext) uint64 {
	t.Helper()
	vals := make([]uint64, f.params.Slots())
	if err := bgv.NewEncoder(f.params.BGV).Decode(bgv.NewDecryptor(f.params.BGV, f.sk).DecryptNew(ct), vals); err != nil {
		t.Fatal(err)
	}
	var sum uint64
	for _, v := range vals {
		sum = (sum + v) % f.params.T()
	}
	return sum
}

// combine is the coordinator's arithmetic on the last party's sums: per
// group and sum, Σ over terms of sign × output, mod T.
func (f *fixture) combine(pl *pb.Plan, outMap []uint32, sums []uint64) []uint64 {
	wp, _ := wire.PlanFromProto(pl)
	l := chain.Layout{Terms: len(wp.Terms), Groups: wp.Groups(), Sums: len(wp.Sums)}
	T := f.params.T()
	out := make([]uint64, l.Groups*l.Sums)
	for o := range l.N() {
		k, g, s := l.Split(o)
		v := sums[outMap[o]]
		if wp.Terms[k].Sign < 0 {
			v = (T - v) % T
		}
		out[g*l.Sums+s] = (out[g*l.Sums+s] + v) % T
	}
	return out
}

// stepCase is a query and its expected totals computed in the clear: per
// group (GROUP BY ta.region, or one group) and per sum of the plan.
type stepCase struct {
	name  string
	sql   string
	match func(person) bool
	group func(person) int
	sums  []func(person) uint64
}

func count(person) uint64 { return 1 }

var stepCases = []stepCase{
	{name: "one party", sql: `SELECT COUNT(*), SUM(ta.age) FROM ta WHERE ta.age > 30`,
		match: func(p person) bool { return p["ta"] != nil && p["ta"]["age"] > 30 },
		sums:  []func(person) uint64{count, func(p person) uint64 { return uint64(p["ta"]["age"]) }}},
	{name: "two parties", sql: `SELECT COUNT(*), SUM(tb.balance) FROM ta JOIN tb USING (person_id) WHERE ta.age > 30 AND tb.balance < 900`,
		match: func(p person) bool {
			return p["ta"] != nil && p["tb"] != nil && p["ta"]["age"] > 30 && p["tb"]["balance"] < 900
		},
		sums: []func(person) uint64{count, func(p person) uint64 { return uint64(p["tb"]["balance"]) }}},
	{name: "three parties grouped",
		sql: `SELECT ta.region, COUNT(*), SUM(tb.balance) FROM ta JOIN tb USING (person_id) JOIN tc USING (person_id) WHERE tc.flag = 1 GROUP BY ta.region`,
		match: func(p person) bool {
			return p["ta"] != nil && p["tb"] != nil && p["tc"] != nil && p["tc"]["flag"] == 1
		},
		group: func(p person) int { return int(p["ta"]["region"]) },
		sums:  []func(person) uint64{count, func(p person) uint64 { return uint64(p["tb"]["balance"]) }}},
	{name: "three parties, a disjunction over two",
		sql: `SELECT COUNT(*) FROM ta JOIN tb USING (person_id) JOIN tc USING (person_id) WHERE ta.age > 60 OR tb.balance < 100`,
		match: func(p person) bool {
			return p["ta"] != nil && p["tb"] != nil && p["tc"] != nil && (p["ta"]["age"] > 60 || p["tb"]["balance"] < 100)
		},
		sums: []func(person) uint64{count}},
}

// want computes a case's totals in the clear, in the layout's (group,
// sum) order.
func (f *fixture) want(tc stepCase, groups int) []uint64 {
	out := make([]uint64, groups*len(tc.sums))
	for _, p := range f.people {
		if !tc.match(p) {
			continue
		}
		g := 0
		if tc.group != nil {
			g = tc.group(p)
		}
		for s, sum := range tc.sums {
			out[g*len(tc.sums)+s] += sum(p)
		}
	}
	return out
}

// runSteps runs the chain in-process with the pure steps: each party's
// blocks travel to the next as messages (marshalled, batched, assembled
// and decoded by its inbox), the last party accumulates on two lanes
// and finishes. It returns the last party's out map and decrypted sums.
func (f *fixture) runSteps(t *testing.T, pl *pb.Plan, order []string) ([]uint32, []uint64) {
	t.Helper()
	var inMap []uint32
	var msgs []*pb.BlockMessage
	for pos, name := range order {
		st, err := f.newStep(t, pl, order, pos, inMap)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		inMap = st.outMap
		var jobs []stepJob
		if st.first() {
			for b := range st.blocks {
				jobs = append(jobs, stepJob{block: b})
			}
		} else {
			ib := st.newInbox()
			for _, m := range msgs {
				j, complete, err := ib.add(m)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if complete {
					jobs = append(jobs, j)
				}
			}
			if err := ib.close(); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		lanes := newLanes(f.params.NewWorker(f.keys.pk, nil), 2)
		msgs = nil
		for _, j := range jobs {
			err := st.Run(lanes[j.block%len(lanes)], j, func(m []*pb.BlockMessage) error {
				if st.last() {
					t.Error("the last party sent a block")
				}
				msgs = append(msgs, m...)
				return nil
			})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		if !st.last() {
			continue
		}
		total, err := st.Finish(lanes)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(total) != len(st.outs) {
			t.Fatalf("%d sums for %d outputs", len(total), len(st.outs))
		}
		sums := make([]uint64, len(total))
		for i, ct := range total {
			if ct.Level() != mpc.DecryptLevel {
				t.Fatalf("sum %d at level %d, want %d", i, ct.Level(), mpc.DecryptLevel)
			}
			sums[i] = f.decrypt(t, ct)
		}
		return st.outMap, sums
	}
	t.Fatal("no last party")
	return nil, nil
}

func TestStepChainMatchesPlaintext(t *testing.T) {
	f := newFixture(t)
	if f.params.Blocks(len(f.people)) != 2 {
		t.Fatalf("fixture spans %d blocks, want 2", f.params.Blocks(len(f.people)))
	}
	for _, tc := range stepCases {
		t.Run(tc.name, func(t *testing.T) {
			pl, order := f.plan(t, tc.sql)
			wp, err := wire.PlanFromProto(pl)
			if err != nil {
				t.Fatal(err)
			}
			outMap, sums := f.runSteps(t, pl, order)
			got := f.combine(pl, outMap, sums)
			want := f.want(tc, wp.Groups())
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("chain %v: totals %v, want %v", order, got, want)
			}
			if want[0] == 0 {
				t.Fatal("the case selects nobody: a weak test")
			}
		})
	}
}

// TestNewStepRefuses feeds headers that do not fit this party, its keys,
// its alignment or its table.
func TestNewStepRefuses(t *testing.T) {
	f := newFixture(t)
	pl, order := f.plan(t, `SELECT COUNT(*), SUM(tb.balance) FROM ta JOIN tb USING (person_id) WHERE ta.age > 30`)
	if strings.Join(order, " ") != "ta tb" && strings.Join(order, " ") != "tb ta" {
		t.Fatalf("order %v", order)
	}
	second := order[1]
	good := func() *pb.QueryHeader { return f.header(pl, order, 1, []uint32{0, 0}) }
	other, _ := f.plan(t, `SELECT COUNT(*) FROM ta JOIN tc USING (person_id)`)
	cases := []struct {
		name   string
		edit   func(h *pb.QueryHeader) *pb.QueryHeader
		want   error
		substr string
	}{
		{"no header", func(*pb.QueryHeader) *pb.QueryHeader { return nil }, ErrBadRequest, "must be its header"},
		{"other ceremony", func(h *pb.QueryHeader) *pb.QueryHeader { h.CeremonyId = "c-old"; return h }, ErrBadRequest, "ceremony"},
		{"other epoch", func(h *pb.QueryHeader) *pb.QueryHeader { h.EpochId = "e-old"; return h }, ErrBadRequest, "epoch"},
		{"other entity count", func(h *pb.QueryHeader) *pb.QueryHeader { h.Entities++; return h }, ErrBadRequest, "epoch"},
		{"position of another party", func(h *pb.QueryHeader) *pb.QueryHeader { h.Position = 0; return h }, ErrBadRequest, "does not name this party"},
		{"position past the chain", func(h *pb.QueryHeader) *pb.QueryHeader { h.Position = 2; return h }, ErrBadRequest, "does not name this party"},
		{"chain too long", func(h *pb.QueryHeader) *pb.QueryHeader {
			h.Chain = []string{"x", second, "y", "z"}
			return h
		}, ErrBadRequest, "does not name this party"},
		{"no plan", func(h *pb.QueryHeader) *pb.QueryHeader { h.Plan = nil; return h }, ErrPlan, "missing"},
		{"chain longer than the plan's tables", func(h *pb.QueryHeader) *pb.QueryHeader {
			h.Chain = []string{order[0], second, "tc"}
			return h
		}, ErrPlan, "chain of 3 parties for 2 tables"},
		{"plan for other tables", func(h *pb.QueryHeader) *pb.QueryHeader { h.Plan = other; return h }, ErrPlan, "is not in the plan's tables"},
		{"input map names a ciphertext that does not exist", func(h *pb.QueryHeader) *pb.QueryHeader {
			h.InMap = []uint32{0, 7}
			return h
		}, ErrWiring, "input map [0 7], the plan implies [0 0]"},
		{"input map rewired", func(h *pb.QueryHeader) *pb.QueryHeader { h.InMap = []uint32{0, 1}; return h }, ErrWiring, "input map [0 1], the plan implies [0 0]"},
		{"input map too short", func(h *pb.QueryHeader) *pb.QueryHeader { h.InMap = []uint32{0}; return h }, ErrWiring, "input map [0], the plan implies [0 0]"},
		{"no input map after the first party", func(h *pb.QueryHeader) *pb.QueryHeader { h.InMap = nil; return h }, ErrWiring, "input map [], the plan implies [0 0]"},
		{"chain in another order than the plan's", func(h *pb.QueryHeader) *pb.QueryHeader {
			h.Chain, h.Position, h.InMap = []string{second, order[0]}, 0, nil
			return h
		}, ErrWiring, "is not at position 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.edit(good())
			_, err := newStep(h, second, f.keys, f.aligned[second], f.data[second].Table, readData(f.data[second]))
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.substr) {
				t.Fatalf("got %v, want %v with %q", err, tc.want, tc.substr)
			}
		})
	}
	if _, err := newStep(good(), second, f.keys, f.aligned[second], f.data[second].Table, readData(f.data[second])); err != nil {
		t.Fatalf("the unedited header: %v", err)
	}
}

// TestStepRefusesBadBlocks feeds a middle and a last party blocks that do
// not fit: wrong ciphertext counts, out of range, repeated, undecodable,
// missing.
func TestStepRefusesBadBlocks(t *testing.T) {
	f := newFixture(t)
	// An OR across ta and tc: the first party (ta) has two distinct
	// conditions, so it sends two ciphertexts per block.
	pl, order := f.plan(t, `SELECT COUNT(*), SUM(tb.balance) FROM ta JOIN tb USING (person_id) JOIN tc USING (person_id) WHERE ta.age > 30 OR tc.flag = 1`)
	steps := make([]*step, len(order))
	var inMap []uint32
	for pos := range order {
		st, err := f.newStep(t, pl, order, pos, inMap)
		if err != nil {
			t.Fatal(err)
		}
		steps[pos], inMap = st, st.outMap
	}
	first, middle, last := steps[0], steps[1], steps[2]
	ln := newLanes(f.params.NewWorker(f.keys.pk, nil), 1)[0]
	cts, err := first.Block(ln, stepJob{block: 0})
	if err != nil {
		t.Fatal(err)
	}
	good, err := first.messages(0, cts)
	if err != nil {
		t.Fatal(err)
	}
	if len(good) != 1 || middle.inCount != len(cts) {
		t.Fatalf("%d messages, %d ciphertexts for %d incoming", len(good), len(cts), middle.inCount)
	}
	j, ok, err := middle.newInbox().add(good[0])
	if err != nil || !ok {
		t.Fatalf("a good block: %v", err)
	}
	goodIn := j.in
	in := func() []*rlwe.Ciphertext { return slices.Clone(goodIn) }
	lower, err := middle.Block(ln, stepJob{block: 0, in: in()}) // one level down
	if err != nil {
		t.Fatal(err)
	}

	t.Run("Block", func(t *testing.T) {
		cases := []struct {
			name string
			st   *step
			job  stepJob
			want error
		}{
			{"first party given ciphertexts", first, stepJob{block: 0, in: in()}, ErrBadRequest},
			{"too few incoming ciphertexts", middle, stepJob{block: 0, in: in()[:1]}, ErrBadRequest},
			{"too many incoming ciphertexts", middle, stepJob{block: 0, in: append(in(), in()...)}, ErrBadRequest},
			{"a missing ciphertext", middle, stepJob{block: 0, in: []*rlwe.Ciphertext{in()[0], nil}}, ErrBadRequest},
			{"a ciphertext at the wrong level", middle, stepJob{block: 0, in: lower}, ErrBadRequest},
			{"block past the end", middle, stepJob{block: middle.blocks, in: in()}, ErrBadRequest},
			{"negative block", middle, stepJob{block: -1, in: in()}, ErrBadRequest},
			{"last party asked for a block", last, stepJob{block: 0, in: in()}, nil},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := tc.st.Block(ln, tc.job)
				if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
					t.Fatalf("got %v, want %v", err, tc.want)
				}
			})
		}
		if err := middle.Accumulate(ln, stepJob{block: 0, in: in()}); err == nil {
			t.Fatal("a middle party accumulated")
		}
		if err := last.Accumulate(ln, stepJob{block: 0, in: in()[:1]}); !errors.Is(err, ErrBadRequest) {
			t.Fatalf("last party, too few ciphertexts: got %v", err)
		}
		if _, err := middle.Finish([]*lane{ln}); err == nil {
			t.Fatal("a middle party finished")
		}
		if _, err := last.Finish(newLanes(f.params.NewWorker(nil, nil), 2)); !errors.Is(err, ErrBadRequest) {
			t.Fatalf("finish with no blocks: got %v", err)
		}
	})

	t.Run("inbox", func(t *testing.T) {
		edit := func(fn func(m *pb.BlockMessage)) []*pb.BlockMessage {
			m := proto.Clone(good[0]).(*pb.BlockMessage)
			fn(m)
			if err := first.sign(m); err != nil { // a faithful predecessor's bad block
				t.Fatal(err)
			}
			return []*pb.BlockMessage{m}
		}
		garbage := edit(func(m *pb.BlockMessage) { m.Ciphertexts[1] = []byte("not a ciphertext") })
		cases := []struct {
			name   string
			msgs   []*pb.BlockMessage
			want   error
			substr string
		}{
			{"block out of range", edit(func(m *pb.BlockMessage) { m.Block = uint32(middle.blocks) }), ErrBadRequest, "out of range 0..1 or repeated"},
			{"block repeated", []*pb.BlockMessage{good[0], good[0]}, ErrBadRequest, "out of range 0..1 or repeated"},
			{"fewer ciphertexts announced", edit(func(m *pb.BlockMessage) { m.Total = 1; m.Ciphertexts = m.Ciphertexts[:1] }), ErrBadRequest, "announces 1 ciphertexts, want 2"},
			{"more ciphertexts announced", edit(func(m *pb.BlockMessage) { m.Total = 3 }), ErrBadRequest, "announces 3"},
			{"offset out of range", edit(func(m *pb.BlockMessage) { m.Offset = 1 }), ErrBadRequest, "out of range 0..1"},
			{"no ciphertexts", edit(func(m *pb.BlockMessage) { m.Ciphertexts = nil }), ErrBadRequest, "out of range"},
			{"a ciphertext sent twice", []*pb.BlockMessage{
				edit(func(m *pb.BlockMessage) { m.Ciphertexts = m.Ciphertexts[:1] })[0],
				edit(func(m *pb.BlockMessage) { m.Ciphertexts = m.Ciphertexts[:1] })[0],
			}, ErrBadRequest, "sent twice"},
			{"undecodable ciphertext", garbage, mpc.ErrMalformed, "block 0 ciphertext 1"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				ib := middle.newInbox()
				var err error
				for _, m := range tc.msgs {
					if _, _, err = ib.add(m); err != nil {
						break
					}
				}
				if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.substr) {
					t.Fatalf("got %v, want %v with %q", err, tc.want, tc.substr)
				}
			})
		}
		fromMiddle, err := middle.messages(0, lower)
		if err != nil {
			t.Fatal(err)
		}
		ib := last.newInbox()
		if _, _, err := ib.add(fromMiddle[0]); err != nil {
			t.Fatal(err)
		}
		if err := ib.close(); !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), "received 1 of 2 blocks") {
			t.Fatalf("a missing block: got %v", err)
		}
	})
}

// fakeStream is a QueryStep stream held in memory: what the coordinator
// sends is queued, what the party sends is recorded.
type fakeStream struct {
	grpc.ServerStream
	ctx  context.Context
	in   chan *pb.BlockMessage
	mu   sync.Mutex
	sent []*pb.BlockMessage
}

func newFakeStream(ctx context.Context, msgs ...*pb.BlockMessage) *fakeStream {
	s := &fakeStream{ctx: ctx, in: make(chan *pb.BlockMessage, len(msgs))}
	for _, m := range msgs {
		s.in <- m
	}
	close(s.in)
	return s
}

func (s *fakeStream) Context() context.Context { return s.ctx }

func (s *fakeStream) Recv() (*pb.BlockMessage, error) {
	m, ok := <-s.in
	if !ok {
		return nil, io.EOF
	}
	return m, nil
}

func (s *fakeStream) Send(m *pb.BlockMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, m)
	return nil
}

func (f *fixture) server(name string, workers int) *Server {
	priv, pub := chainKeys()
	return &Server{log: zerolog.Nop(), src: source.FromData(f.data[name]), table: f.data[name].Table, name: name, workers: workers, keys: f.keys, aligned: f.aligned[name],
		priv: priv[name], peers: pub, requests: &requestMemory{}}
}

// readData reads a step's rows from a table in memory, as a CSV party.
func readData(d *table.Data) readFunc {
	src := source.FromData(d)
	return func(req source.Request) (*source.Rows, error) { return src.Read(context.Background(), nil, req) }
}

// admitted stands for the ledger gate and the analyst's signature (tested
// end to end): the plan is taken as committed.
func admitted(h *pb.QueryHeader, _ *alignment) ([32]byte, error) { return wire.PlanHash(h.Plan) }

// TestQueryStepDriver runs the same chains through the stream driver with
// in-memory streams and several workers per party, as the coordinator
// would forward them.
func TestQueryStepDriver(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, tc := range stepCases {
		t.Run(tc.name, func(t *testing.T) {
			pl, order := f.plan(t, tc.sql)
			var inMap []uint32
			var blocks []*pb.BlockMessage
			for pos, name := range order {
				stream := newFakeStream(ctx, append([]*pb.BlockMessage{{Header: f.header(pl, order, pos, inMap)}}, blocks...)...)
				if err := f.server(name, 3).runStep(ctx, stream, admitted); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				inMap, blocks = stream.sent[0].OutMap, stream.sent[1:]
			}
			// The last party's packed totals, one signed ciphertext per
			// message, as every party checks them before its share.
			wp, _ := wire.PlanFromProto(pl)
			n := wp.Groups() * len(wp.Sums)
			if len(blocks) != f.params.PackedCount(n) {
				t.Fatalf("the last party sent %d messages, want its %d packed ciphertext(s) only", len(blocks), f.params.PackedCount(n))
			}
			planHash, _ := wire.PlanHash(pl)
			_, pub := chainKeys()
			b := chainsig.Binding{QueryID: "q-test", PlanHash: planHash, Position: uint32(len(order) - 1)}
			scale := f.params.ScaleAt(len(order), mpc.DecryptLevel)
			var got []uint64
			for i, m := range blocks {
				if len(m.Ciphertexts) != 1 || m.Offset != uint32(i) || m.Total != uint32(len(blocks)) {
					t.Fatalf("message %d: %d ciphertexts at %d of %d", i, len(m.Ciphertexts), m.Offset, m.Total)
				}
				if err := chainsig.VerifyPacked(pub[order[len(order)-1]], b, m.Offset, m.Total, m.Ciphertexts[0], m.Signature); err != nil {
					t.Fatal(err)
				}
				ct, err := f.params.UnmarshalCiphertext(m.Ciphertexts[0], mpc.DecryptLevel, scale)
				if err != nil {
					t.Fatal(err)
				}
				lo, hi := f.params.PackedChunk(n, i)
				vals, err := f.params.DecryptPacked(f.sk, ct, hi-lo)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, vals...)
			}
			if want := f.want(tc, wp.Groups()); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("totals %v, want %v", got, want)
			}
		})
	}
}

func TestQueryStepDriverRefuses(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	pl, order := f.plan(t, `SELECT COUNT(*) FROM ta JOIN tb USING (person_id)`)
	firstOut := newFakeStream(ctx, &pb.BlockMessage{Header: f.header(pl, order, 0, nil)})
	if err := f.server(order[0], 2).runStep(ctx, firstOut, admitted); err != nil {
		t.Fatal(err)
	}
	inMap, blocks := firstOut.sent[0].OutMap, firstOut.sent[1:]
	if len(blocks) != 2 {
		t.Fatalf("%d block messages, want 2", len(blocks))
	}
	slices.SortFunc(blocks, func(a, b *pb.BlockMessage) int { return int(a.Block) - int(b.Block) }) // workers finish in any order
	h := &pb.BlockMessage{Header: f.header(pl, order, 1, inMap)}
	priv, _ := chainKeys()
	clone := func(m *pb.BlockMessage) *pb.BlockMessage { return proto.Clone(m).(*pb.BlockMessage) }
	moved := clone(blocks[0])
	moved.Block = 1
	unsigned := clone(blocks[0])
	unsigned.Signature = nil
	foreign := clone(blocks[0])
	foreign.Signature = chainsig.Sign(priv[order[1]], chainsig.Binding{QueryID: "q-test", PlanHash: mustHash(t, pl), Position: 0},
		chainsig.Ref{Block: 0, Total: foreign.Total}, foreign.Ciphertexts)
	replayed := clone(blocks[0])
	replayed.Signature = chainsig.Sign(priv[order[0]], chainsig.Binding{QueryID: "q-other", PlanHash: mustHash(t, pl), Position: 0},
		chainsig.Ref{Block: 0, Total: replayed.Total}, replayed.Ciphertexts)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	cases := []struct {
		name   string
		ctx    context.Context
		msgs   []*pb.BlockMessage
		want   error
		substr string
	}{
		{"no header", ctx, []*pb.BlockMessage{blocks[0]}, ErrBadRequest, "must be its header"},
		{"a missing block", ctx, []*pb.BlockMessage{h, blocks[1]}, ErrBadRequest, "received 1 of 2 blocks"},
		{"a repeated block", ctx, []*pb.BlockMessage{h, blocks[0], blocks[0], blocks[1]}, ErrBadRequest, "out of range 0..1 or repeated"},
		{"cancelled", cancelled, []*pb.BlockMessage{h, blocks[0], blocks[1]}, context.Canceled, ""},
		{"a block moved to another index", ctx, []*pb.BlockMessage{h, moved, blocks[0]}, chainsig.ErrBadSignature, "block 1"},
		{"a block signed by the next party", ctx, []*pb.BlockMessage{h, foreign, blocks[1]}, chainsig.ErrBadSignature, "block 0"},
		{"a block from another query", ctx, []*pb.BlockMessage{h, replayed, blocks[1]}, chainsig.ErrBadSignature, "block 0"},
		{"an unsigned block", ctx, []*pb.BlockMessage{h, unsigned, blocks[1]}, chainsig.ErrBadSignature, "block 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stream := newFakeStream(tc.ctx, tc.msgs...)
			err := f.server(order[1], 2).runStep(tc.ctx, stream, admitted)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.substr) {
				t.Fatalf("got %v, want %v with %q", err, tc.want, tc.substr)
			}
			for _, m := range stream.sent[min(1, len(stream.sent)):] {
				if len(m.Ciphertexts) > 0 {
					t.Fatal("sums sent after a refusal")
				}
			}
		})
	}
	s := f.server(order[1], 2)
	s.aligned = nil
	if err := s.runStep(ctx, newFakeStream(ctx, h), admitted); !errors.Is(err, ErrNotReady) {
		t.Fatalf("no alignment: got %v", err)
	}
}

func mustHash(t *testing.T, pl *pb.Plan) [32]byte {
	t.Helper()
	h, err := wire.PlanHash(pl)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
