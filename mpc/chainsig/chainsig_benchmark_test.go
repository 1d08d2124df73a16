package chainsig

import (
	"crypto/rand"
	"testing"
)

// A logN 14 block at the first party's output level (chain of 3): 2 polynomials × 4
// limbs × 16384 coefficients × 8 bytes, 1 MiB.
const blockBytes = 2 * 4 * 16384 * 8

func BenchmarkSignBlock(b *testing.B) {
	_, priv := keys(b)
	cts := [][]byte{make([]byte, blockBytes)}
	_, _ = rand.Read(cts[0])
	bd := Binding{QueryID: "q-bench", Position: 0}
	b.SetBytes(blockBytes)
	for b.Loop() {
		Sign(priv, bd, Ref{Total: 1}, cts)
	}
}

func BenchmarkVerifyBlock(b *testing.B) {
	pub, priv := keys(b)
	cts := [][]byte{make([]byte, blockBytes)}
	_, _ = rand.Read(cts[0])
	bd := Binding{QueryID: "q-bench", Position: 0}
	sig := Sign(priv, bd, Ref{Total: 1}, cts)
	b.SetBytes(blockBytes)
	for b.Loop() {
		if err := Verify(pub, bd, Ref{Total: 1}, cts, sig); err != nil {
			b.Fatal(err)
		}
	}
}
