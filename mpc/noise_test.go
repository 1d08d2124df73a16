package mpc

import (
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"testing"

	"github.com/mpcq/mpcq/dp"
	"github.com/tuneinsight/lattigo/v5/core/rlwe"
)

// decryptWithNoise runs the decryption protocol on a packed ciphertext of
// k totals, each party adding its noise vector (nil: none) inside its
// share, and returns the analyst's decrypted totals.
func (c *consortium) decryptWithNoise(t *testing.T, packed *rlwe.Ciphertext, k int, noise map[string][]*big.Int) []uint64 {
	t.Helper()
	p := c.p
	ask := p.NewSecretKey()
	apk := rlwe.NewKeyGenerator(p.BGV).GenPublicKeyNew(ask)
	shares := map[string][]byte{}
	for name, sk := range c.sks {
		var err error
		if shares[name], err = p.DecryptShare(sk, apk, packed, noise[name]); err != nil {
			t.Fatalf("party %s: %v", name, err)
		}
	}
	out, err := p.CombineShares(packed, shares)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.DecryptPacked(ask, out, k)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func bigs(vs ...int64) []*big.Int {
	out := make([]*big.Int, len(vs))
	for i, v := range vs {
		out[i] = big.NewInt(v)
	}
	return out
}

// TestDecryptShareNoise: every party's noise lands on its total, negative
// noise included (a negative noisy total decodes through dp.Center), and
// nil noise gives the exact totals.
func TestDecryptShareNoise(t *testing.T) {
	p := mustParams(t, testSet)
	c := newConsortium(t, p, "bank", "telecom", "utility")
	w := p.NewWorker(c.pk, c.evk)
	rng := mrand.New(mrand.NewPCG(11, 12))
	huge := int64(p.T()/2 - 1_000_000) // |noise| near T/2: reduction mod T must be exact
	for _, tc := range []struct {
		name  string
		noise map[string][]*big.Int
		k     int
	}{
		{"k=1/exact", nil, 1},
		{"k=1/three-parties", map[string][]*big.Int{
			"bank": bigs(5), "telecom": bigs(-3_000_000), "utility": bigs(17),
		}, 1},
		{"k=1/one-noisy", map[string][]*big.Int{"bank": bigs(-42)}, 1},
		{"k=5/exact", nil, 5},
		{"k=5/three-parties", map[string][]*big.Int{
			"bank":    bigs(1, -2, 3, 0, 1_000_000_007),
			"telecom": bigs(-100_000_000, 0, 7, -huge, 9),
			"utility": bigs(0, 65_537, -1, 123, -1_000_000_007),
		}, 5},
		{"k=5/two-noisy", map[string][]*big.Int{
			"bank":    bigs(-1, -1, -1, -1, -1),
			"utility": bigs(2, 2, 2, 2, -3_000_000_000),
		}, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cts, want := chainOutputs(t, c, w, rng, tc.k, 1000)
			packed, err := w.Pack(cts)
			if err != nil {
				t.Fatal(err)
			}
			got := c.decryptWithNoise(t, packed, tc.k, tc.noise)
			for j := range tc.k {
				sum := int64(want[j])
				for _, v := range tc.noise {
					sum += v[j].Int64()
				}
				if g := dp.Center(got[j], p.T()); g != sum {
					t.Errorf("total %d: decrypted %d (centered %d), want %d + noise = %d", j, got[j], g, want[j], sum)
				}
			}
		})
	}
}

// TestDecryptShareNoiseRefused: noise that does not describe a packed
// ciphertext's totals is refused, naming what is wrong.
func TestDecryptShareNoiseRefused(t *testing.T) {
	p := mustParams(t, testSet)
	c := newConsortium(t, p, "bank")
	w := p.NewWorker(c.pk, c.evk)
	cts, _ := chainOutputs(t, c, w, mrand.New(mrand.NewPCG(13, 14)), 2, 10)
	packed, err := w.Pack(cts)
	if err != nil {
		t.Fatal(err)
	}
	apk := rlwe.NewKeyGenerator(p.BGV).GenPublicKeyNew(p.NewSecretKey())
	for _, noise := range [][]*big.Int{{}, {big.NewInt(1), nil}, make([]*big.Int, p.MaxPacked()+1)} {
		t.Run(fmt.Sprintf("len=%d", len(noise)), func(t *testing.T) {
			if _, err := p.DecryptShare(c.sks["bank"], apk, packed, noise); err == nil {
				t.Fatal("accepted")
			} else {
				t.Log(err)
			}
		})
	}
}
