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

// A packed output at the decryption level (logN 14, level 1: two limbs): 512 KiB.
const packedBytes = 2 * 2 * 16384 * 8

// BenchmarkVerifyPacked is the check every party adds before its
// decryption share: one SHA-256 of the packed ciphertext and one Ed25519
// verification.
func BenchmarkVerifyPacked(b *testing.B) {
	pub, priv := keys(b)
	ct := make([]byte, packedBytes)
	_, _ = rand.Read(ct)
	bd := Binding{QueryID: "q-bench", Position: 2}
	sig := SignPacked(priv, bd, 0, 1, ct)
	b.SetBytes(packedBytes)
	for b.Loop() {
		if err := VerifyPacked(pub, bd, 0, 1, ct, sig); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignPacked is the last party's added signature.
func BenchmarkSignPacked(b *testing.B) {
	_, priv := keys(b)
	ct := make([]byte, packedBytes)
	_, _ = rand.Read(ct)
	bd := Binding{QueryID: "q-bench", Position: 2}
	b.SetBytes(packedBytes)
	for b.Loop() {
		SignPacked(priv, bd, 0, 1, ct)
	}
}
