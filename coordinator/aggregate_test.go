package coordinator

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"google.golang.org/grpc/codes"

	"github.com/mpcq/mpcq/internal/rpc"
	"github.com/mpcq/mpcq/mpc"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// TestPackedAndDecrypt drives the coordinator's pure steps on real
// ciphertexts: the last party's packed totals arrive one per message
// (packedAssembly), are switched to the analyst's key with every party's
// share (combineShares), and decrypt to the plaintext answer. Combining
// and packing are the last party's (party.step.Pack, tested there).
func TestPackedAndDecrypt(t *testing.T) {
	c := newTestConsortium(t)
	p := c.params
	a := [][]uint64{{1, 2, 0, 5}, {4, 4, 4, 4}, {9}}
	b := [][]uint64{{3, 10, 7, 1}, {1, 2, 3, 4}, {9}}
	var want []uint64
	var cts []*rlwe.Ciphertext
	for f := range a {
		var dot uint64
		for i := range a[f] {
			dot += a[f][i] * b[f][i]
		}
		want = append(want, dot)
		cts = append(cts, c.chainOutput(t, a[f], b[f]))
	}
	packed, err := p.NewWorker(nil, c.evk).Pack(cts)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := p.MarshalCiphertext(packed)
	if err != nil {
		t.Fatal(err)
	}
	asm := newPackedAssembly(1)
	if err := asm.add(&pb.BlockMessage{Offset: 0, Total: 1, Ciphertexts: [][]byte{raw}, Signature: []byte("sig")}); err != nil {
		t.Fatal(err)
	}
	totals, err := asm.decode(p, 2)
	if err != nil {
		t.Fatal(err)
	}
	if string(asm.sigs[0]) != "sig" || string(asm.final[0]) != string(raw) {
		t.Fatal("the packed ciphertext or its signature was not kept as sent")
	}
	ctx := context.Background()
	switched, err := combineShares(ctx, p, 2, totals, c.decryptionShares(t, totals))
	if err != nil {
		t.Fatal(err)
	}
	ct, err := p.UnmarshalCiphertext(switched[0], mpc.DecryptLevel, totals[0].Scale)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.DecryptPacked(c.ask, ct, len(want))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
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
