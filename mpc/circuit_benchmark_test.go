package mpc

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
)

// Benchmarks of each circuit step at the production parameters, per block
// or per aggregate: `go test ./mpc -run '^$' -bench Step`.

func benchSetup(b *testing.B) (*consortium, *Worker, []uint64) {
	b.Helper()
	p := mustParams(b, DefaultSetName)
	c := newConsortium(b, p, "a", "b", "c")
	w := p.NewWorker(c.pk, c.evk)
	r := rand.New(rand.NewPCG(1, 2))
	vals := make([]uint64, p.Slots())
	for i := range vals {
		vals[i] = r.Uint64N(2)
	}
	return c, w, vals
}

func BenchmarkStepEncrypt(b *testing.B) {
	_, w, vals := benchSetup(b)
	for b.Loop() {
		if _, err := w.EncryptBlock(vals, 3); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncryptPoolHit is the first party's online step with an
// encryption of zero from the pool (take, encode, add): compare with
// BenchmarkStepEncrypt, the fresh encryption it replaces, by
// `go test ./mpc -run '^$' -bench 'Encrypt' -count 5`. The pool is refilled
// outside the timer.
func BenchmarkEncryptPoolHit(b *testing.B) {
	c, w, vals := benchSetup(b)
	const batch = 32
	ep, err := c.p.NewEncPool(c.pk, batch)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		if ep.Len() == 0 {
			b.StopTimer()
			if err := ep.FillN(ctx, batch); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		if _, hit, err := w.EncryptBlockPooled(ep, vals, 3); err != nil || !hit {
			b.Fatalf("hit %v, %v", hit, err)
		}
	}
}

// BenchmarkEncryptPoolFill is the offline cost of one pool entry (an
// encryption of zero at the top level), what the idle party's filler
// spends per block.
func BenchmarkEncryptPoolFill(b *testing.B) {
	c, _, _ := benchSetup(b)
	ep, err := c.p.NewEncPool(c.pk, 1)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		if err := ep.FillN(ctx, 1); err != nil {
			b.Fatal(err)
		}
		if ct, _ := ep.Take(MaxChain); ct == nil {
			b.Fatal("no entry")
		}
	}
}

func BenchmarkStepEncode(b *testing.B) {
	_, w, vals := benchSetup(b)
	for b.Loop() {
		if _, err := w.Encode(vals, 2, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStepMulAccumulate(b *testing.B) {
	_, w, vals := benchSetup(b)
	ct, _ := w.EncryptBlock(vals, 3)
	pt, _ := w.Encode(vals, 3, nil)
	ct, _ = w.MulBlock(ct, pt)
	pt, _ = w.Encode(vals, 2, nil)
	var acc *rlwe.Ciphertext
	for b.Loop() {
		var err error
		if acc, err = w.MulAccumulate(acc, ct, pt); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStepPack sums the slots of k level-1 ciphertexts and packs the
// totals (the last party's step per query, formerly the coordinator's).
func BenchmarkStepPack(b *testing.B) {
	c, w, _ := benchSetup(b)
	for _, k := range []int{1, 2, 20} {
		b.Run(fmt.Sprintf("k=%d", k), func(b *testing.B) {
			cts, _ := chainOutputs(b, c, w, rand.New(rand.NewPCG(1, 2)), k, 1)
			for b.Loop() {
				in := make([]*rlwe.Ciphertext, k)
				for i := range in {
					in[i] = cts[i].CopyNew()
				}
				if _, err := w.Pack(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkStepDecryptShare is one party's decryption share of the spine
// query's packed totals (4 totals, the bench's spine query), exact and
// with its share of differential-privacy noise (the noise values
// themselves come from dp: BenchmarkDiscreteLaplace).
func BenchmarkStepDecryptShare(b *testing.B) {
	c, w, _ := benchSetup(b)
	cts, _ := chainOutputs(b, c, w, rand.New(rand.NewPCG(1, 2)), 4, 1)
	total, _ := w.Pack(cts)
	apk := rlwe.NewKeyGenerator(c.p.BGV).GenPublicKeyNew(c.p.NewSecretKey())
	noise := []*big.Int{big.NewInt(-123456789), big.NewInt(42), big.NewInt(7), big.NewInt(-1)}
	for _, bc := range []struct {
		name  string
		noise []*big.Int
	}{{"exact", nil}, {"noisy", noise}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := c.p.DecryptShare(c.sks["a"], apk, total, bc.noise); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
