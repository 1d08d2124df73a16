package dp

import (
	"crypto/rand"
	"math/big"
	"testing"
)

// BenchmarkDiscreteLaplace samples at a sum-of-squares scale (3·10^10)
// from crypto/rand.
func BenchmarkDiscreteLaplace(b *testing.B) {
	scale := big.NewRat(30_000_000_000, 1)
	for b.Loop() {
		if _, err := DiscreteLaplace(rand.Reader, scale); err != nil {
			b.Fatal(err)
		}
	}
}
