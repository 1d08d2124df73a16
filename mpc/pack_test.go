package mpc

import (
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"testing"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
)

// chainOutputs returns k level-1 ciphertexts (two-party chain: encrypt a
// random indicator block, multiply by random values) and their totals
// computed in plaintext.
func chainOutputs(t testing.TB, c *consortium, w *Worker, rng *mrand.Rand, k int, maxVal uint64) ([]*rlwe.Ciphertext, []uint64) {
	t.Helper()
	n := c.p.Slots()
	cts := make([]*rlwe.Ciphertext, k)
	want := make([]uint64, k)
	for j := range k {
		ind, vals := make([]uint64, n), make([]uint64, n)
		for i := range n {
			ind[i], vals[i] = rng.Uint64N(2), rng.Uint64N(maxVal+1)
			want[j] += ind[i] * vals[i]
		}
		ct, err := w.EncryptBlock(ind, 2)
		if err != nil {
			t.Fatal(err)
		}
		pt, err := w.Encode(vals, ct.Level(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if cts[j], err = w.MulBlock(ct, pt); err != nil {
			t.Fatal(err)
		}
	}
	return cts, want
}

func TestPackTotals(t *testing.T) {
	p := mustParams(t, testSet)
	c := newConsortium(t, p, "bank", "telecom", "utility")
	w := p.NewWorker(c.pk, c.evk)
	rng := mrand.New(mrand.NewPCG(3, 4))
	for _, k := range []int{1, 2, 3, 4, 5, 20, 33, 130, 257} {
		t.Run(fmt.Sprintf("k=%d", k), func(t *testing.T) {
			cts, want := chainOutputs(t, c, w, rng, k, 1_000_000)
			packed, err := w.Pack(cts)
			if err != nil {
				t.Fatal(err)
			}
			if packed.Level() != DecryptLevel {
				t.Fatalf("packed at level %d, want %d", packed.Level(), DecryptLevel)
			}
			checkNoise(t, p, []float64{c.noiseLog2(t, packed)})
			got := c.decryptPackedForAnalyst(t, packed, k)
			for j := range want {
				if got[j] != want[j] {
					t.Fatalf("total %d: encrypted %d, plaintext %d", j, got[j], want[j])
				}
			}
		})
	}
}

// TestPackedWorstCase packs totals just below T at the secure parameters;
// slot values differ, so the plaintexts have non-zero coefficients beyond
// the constant one that packing must clear.
func TestPackedWorstCase(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: secure parameters")
	}
	p := mustParams(t, DefaultSetName)
	c := newConsortium(t, p, "bank", "telecom", "utility")
	w := p.NewWorker(c.pk, c.evk)
	n := uint64(p.Slots())
	top := (p.T() - 1) / n
	ones := make([]uint64, n)
	for i := range ones {
		ones[i] = 1
	}
	var cts []*rlwe.Ciphertext
	var want []uint64
	for j := range 20 {
		ct, err := w.EncryptBlock(ones, 2)
		if err != nil {
			t.Fatal(err)
		}
		v := make([]uint64, n)
		var sum uint64
		for i := range v {
			v[i] = top - uint64((i*7+j)%5)
			sum += v[i]
		}
		pt, err := w.Encode(v, ct.Level(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if ct, err = w.MulBlock(ct, pt); err != nil {
			t.Fatal(err)
		}
		cts = append(cts, ct)
		want = append(want, sum)
	}
	packed, err := w.Pack(cts)
	if err != nil {
		t.Fatal(err)
	}
	checkNoise(t, p, []float64{c.noiseLog2(t, packed)})
	requireFloodingMargin(t, c, packed)
	got := c.decryptPackedForAnalyst(t, packed, len(want))
	for j := range want {
		if got[j] != want[j] {
			t.Fatalf("total %d: encrypted %d, plaintext %d", j, got[j], want[j])
		}
	}
}

// TestDecryptPackedRefusesUnpacked: a ciphertext whose slots were not
// summed and packed (what a deviating coordinator might send for
// decryption) shows as non-zero coefficients, not as totals.
func TestDecryptPackedRefusesUnpacked(t *testing.T) {
	p := mustParams(t, testSet)
	c := newConsortium(t, p, "bank", "telecom", "utility")
	w := p.NewWorker(c.pk, c.evk)
	cts, _ := chainOutputs(t, c, w, mrand.New(mrand.NewPCG(5, 6)), 1, 10)
	ask := p.NewSecretKey()
	apk := rlwe.NewKeyGenerator(p.BGV).GenPublicKeyNew(ask)
	shares := map[string][]byte{}
	for name, sk := range c.sks {
		var err error
		if shares[name], err = p.DecryptShare(sk, apk, cts[0], nil); err != nil {
			t.Fatal(err)
		}
	}
	out, err := p.CombineShares(cts[0], shares)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DecryptPacked(ask, out, 1); !errors.Is(err, ErrNotExact) {
		t.Fatalf("got %v, want ErrNotExact", err)
	}
}

func TestPackShape(t *testing.T) {
	p := mustParams(t, DefaultSetName)
	m := p.MaxPacked()
	for _, tc := range []struct{ k, count, lastLo, lastHi int }{
		{1, 1, 0, 1}, {20, 1, 0, 20}, {6400, 1, 0, 6400}, {m, 1, 0, m}, {m + 1, 2, m, m + 1}, {2*m + 5, 3, 2 * m, 2*m + 5},
	} {
		if got := p.PackedCount(tc.k); got != tc.count {
			t.Errorf("PackedCount(%d) = %d, want %d", tc.k, got, tc.count)
			continue
		}
		if lo, hi := p.PackedChunk(tc.k, tc.count-1); lo != tc.lastLo || hi != tc.lastHi {
			t.Errorf("PackedChunk(%d, last) = %d..%d, want %d..%d", tc.k, lo, hi, tc.lastLo, tc.lastHi)
		}
	}
	// logN 14: one total is the full trace (14); 2 totals pad to 4 (3
	// merges + 12 trace steps); 20 pad to 32 (31 + 9).
	for k, want := range map[int]int{1: 14, 2: 15, 20: 40} {
		if got := p.PackKeySwitches(k); got != want {
			t.Errorf("PackKeySwitches(%d) = %d, want %d", k, got, want)
		}
	}
	for _, k := range []int{0, -1, m + 1} {
		if _, _, err := p.packShape(k); err == nil {
			t.Errorf("packShape(%d) accepted", k)
		}
	}
}
