package align

import (
	"context"
	"crypto/sha512"
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchBatch is the number of elements blinded per benchmark iteration.
const benchBatch = 2048

// reportPerElement reports the mean time per element in microseconds.
func reportPerElement(b *testing.B, perIteration int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(b.N*perIteration), "µs/elem")
}

func BenchmarkBlindIDs(b *testing.B) {
	k := mustKey(b, 1)
	in := ids("bench", benchBatch)
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			for b.Loop() {
				if _, err := BlindIDs(context.Background(), k, in, workers); err != nil {
					b.Fatal(err)
				}
			}
			reportPerElement(b, len(in))
		})
	}
}

func BenchmarkBlind(b *testing.B) {
	k := mustKey(b, 1)
	in, err := BlindIDs(context.Background(), mustKey(b, 2), ids("bench", benchBatch), 0)
	if err != nil {
		b.Fatal(err)
	}
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			for b.Loop() {
				if _, err := Blind(context.Background(), k, in, workers); err != nil {
					b.Fatal(err)
				}
			}
			reportPerElement(b, len(in))
		})
	}
}

// BenchmarkRanks merges three parties' sets of n random pseudonyms each, a
// third of which are held by all three.
func BenchmarkRanks(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("3x%d", n), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, uint64(n)))
			shared := make([][]byte, n/3)
			for i := range shared {
				shared[i] = randomElem(rng)
			}
			sets := map[string][][]byte{}
			for _, p := range []string{"telecom", "bank", "utility"} {
				s := append([][]byte{}, shared...)
				for len(s) < n {
					s = append(s, randomElem(rng))
				}
				rng.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
				sets[p] = s
			}
			for b.Loop() {
				if _, _, _, err := Ranks(sets); err != nil {
					b.Fatal(err)
				}
			}
			reportPerElement(b, 3*n)
		})
	}
}

func BenchmarkElemsHash(b *testing.B) {
	in, err := BlindIDs(context.Background(), mustKey(b, 2), ids("bench", benchBatch), 0)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		ElemsHash(in)
	}
	reportPerElement(b, len(in))
}

// BenchmarkHashToCurve is the per-own-id map alone (SHA-512, RFC 9496's
// hash-to-group on Edwards points, Montgomery u), without the blinding.
func BenchmarkHashToCurve(b *testing.B) {
	m := newHashMap()
	in := ids("bench", benchBatch)
	var u [ElementSize]byte
	var sum [64]byte
	h := sha512.New()
	for b.Loop() {
		for _, id := range in {
			if err := m.hashToU(u[:], hashID(h, id, sum[:0])); err != nil {
				b.Fatal(err)
			}
		}
	}
	reportPerElement(b, len(in))
}
