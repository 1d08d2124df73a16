package coordinator

import (
	"context"
	"errors"
	"testing"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"google.golang.org/grpc/codes"

	"github.com/mpcq/mpcq/internal/chain"
	"github.com/mpcq/mpcq/internal/rpc"
	"github.com/mpcq/mpcq/mpc"
	"github.com/mpcq/mpcq/plan"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// TestAggregateAndDecrypt drives the coordinator's pure steps on real
// ciphertexts: the last party's sums arrive in two messages (sumAssembly),
// are combined over the WHERE's terms and packed (aggregate), switched to
// the analyst's key with every party's share (combineShares), and decrypt
// to the plaintext answer.
func TestAggregateAndDecrypt(t *testing.T) {
	c := newTestConsortium(t)
	p := c.params
	layout := chain.Layout{Terms: 2, Groups: 2, Sums: 2}
	terms := []plan.Term{{Sign: 1}, {Sign: -1}}
	// Output 7 shares ciphertext 0, as a party's output map may say.
	outMap := []uint32{0, 1, 2, 3, 4, 5, 6, 0}
	if err := checkOutMap(outMap, layout.N()); err != nil {
		t.Fatal(err)
	}
	const distinct = 7
	a := make([][]uint64, distinct)
	b := make([][]uint64, distinct)
	dots := make([]uint64, distinct)
	var raws [][]byte
	for f := range distinct {
		a[f] = []uint64{uint64(f + 1), 2, 0, 5}
		b[f] = []uint64{3, uint64(10 * f), 7, 1}
		for i := range a[f] {
			dots[f] += a[f][i] * b[f][i]
		}
		raw, err := p.MarshalCiphertext(c.chainOutput(t, a[f], b[f]))
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, raw)
	}

	asm := newSumAssembly(outMap)
	for _, m := range []*pb.BlockMessage{
		{Offset: 0, Total: distinct, Ciphertexts: raws[:3]},
		{Offset: 3, Total: distinct, Ciphertexts: raws[3:]},
	} {
		if err := asm.add(m); err != nil {
			t.Fatal(err)
		}
	}
	finals, err := asm.decode(p, 2)
	if err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	totals, err := aggregate(ctx, p.NewWorker(nil, c.evk), p, 2, layout, terms, finals, outMap)
	if err != nil {
		t.Fatal(err)
	}
	n := layout.Groups * layout.Sums
	if len(totals) != p.PackedCount(n) {
		t.Fatalf("%d packed ciphertexts, want %d", len(totals), p.PackedCount(n))
	}
	switched, err := combineShares(ctx, p, 2, totals, c.decryptionShares(t, totals))
	if err != nil {
		t.Fatal(err)
	}
	var got []uint64
	for i, raw := range switched {
		ct, err := p.UnmarshalCiphertext(raw, mpc.DecryptLevel, totals[i].Scale)
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := p.PackedChunk(n, i)
		vals, err := p.DecryptPacked(c.ask, ct, hi-lo)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, vals...)
	}
	T := p.T()
	for j := range n {
		g, sm := j/layout.Sums, j%layout.Sums
		var want uint64
		for k := range layout.Terms {
			d := dots[outMap[layout.Index(k, g, sm)]] % T
			if terms[k].Sign < 0 {
				d = (T - d) % T
			}
			want = (want + d) % T
		}
		if got[j] != want {
			t.Errorf("group %d sum %d: got %d, want %d", g, sm, got[j], want)
		}
	}
}

// TestCombineSharesNamesTheBadParty checks that a share that does not
// decode fails the query as that party's failure.
func TestCombineSharesNamesTheBadParty(t *testing.T) {
	c := newTestConsortium(t)
	p := c.params
	total, err := p.NewWorker(nil, c.evk).Pack([]*rlwe.Ciphertext{c.chainOutput(t, []uint64{1}, []uint64{1})})
	if err != nil {
		t.Fatal(err)
	}
	totals := []*rlwe.Ciphertext{total}
	cases := []struct {
		name   string
		damage func(share []byte) []byte
	}{
		{"truncated", func(s []byte) []byte { return s[:len(s)/2] }},
		{"empty", func([]byte) []byte { return nil }},
		{"trailing bytes", func(s []byte) []byte { return append(append([]byte{}, s...), 1, 2, 3) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			shares := c.decryptionShares(t, totals)
			shares[0]["telecom"] = tc.damage(shares[0]["telecom"])
			_, err := combineShares(context.Background(), p, 2, totals, shares)
			if err == nil {
				t.Fatal("a damaged share was accepted")
			}
			if partyOf(err) != "telecom" || !errors.Is(err, ErrParty) {
				t.Fatalf("error %v names party %q, want telecom and ErrParty", err, partyOf(err))
			}
			if code := rpc.Code(err, codeMap...); code != codes.Unavailable {
				t.Fatalf("code %v, want Unavailable (the party's failure, not the analyst's)", code)
			}
		})
	}
}

// TestAggregateHonoursCancellation checks that a cancelled query packs
// nothing.
func TestAggregateHonoursCancellation(t *testing.T) {
	c := newTestConsortium(t)
	p := c.params
	ct := c.chainOutput(t, []uint64{1}, []uint64{1})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := aggregate(ctx, p.NewWorker(nil, c.evk), p, 2, chain.Layout{Terms: 1, Groups: 1, Sums: 1}, nil, []*rlwe.Ciphertext{ct}, []uint32{0})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}
