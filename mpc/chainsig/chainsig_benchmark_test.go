package chainsig

import (
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/mpcq/mpcq/mpc"
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

// BenchmarkChainBlock is the per-block work chain signatures add to a
// query of a chain of three parties (the demo's spine query) at the
// production parameters, with ciphertexts of the real wire size at each
// position's output level: the first party signs its level-3 block (1 MiB),
// the second verifies it and signs its level-2 block (768 KiB), the last
// verifies that. One message per block: a block's ciphertexts go in one
// message while they fit transport.MaxBatchBytes. With the packed
// signature (SignPacked, VerifyPacked) this is everything the checks add
// per query: `go test ./mpc/chainsig -run '^$' -bench 'ChainBlock|Packed'`.
func BenchmarkChainBlock(b *testing.B) {
	p, err := mpc.NewParams(mpc.DefaultSetName)
	if err != nil {
		b.Fatal(err)
	}
	const chainLen = 3
	fresh, err := p.FreshLevel(chainLen)
	if err != nil {
		b.Fatal(err)
	}
	pub, priv := keys(b)
	for pos := range chainLen - 1 {
		level := fresh - pos
		cts := [][]byte{make([]byte, p.CiphertextSize(level))}
		_, _ = rand.Read(cts[0])
		bd := Binding{QueryID: "q-bench", Position: uint32(pos)}
		ref := Ref{Block: 7, Total: 1}
		b.Run(fmt.Sprintf("sign/level=%d", level), func(b *testing.B) {
			b.SetBytes(int64(len(cts[0])))
			for b.Loop() {
				Sign(priv, bd, ref, cts)
			}
		})
		sig := Sign(priv, bd, ref, cts)
		b.Run(fmt.Sprintf("verify/level=%d", level), func(b *testing.B) {
			b.SetBytes(int64(len(cts[0])))
			for b.Loop() {
				if err := Verify(pub, bd, ref, cts, sig); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
