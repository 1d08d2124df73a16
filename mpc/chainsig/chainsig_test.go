package chainsig

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"
)

func keys(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func TestVerify(t *testing.T) {
	pub, priv := keys(t)
	otherPub, otherPriv := keys(t)
	b := Binding{QueryID: "q-1", PlanHash: [32]byte{1}, Position: 1}
	r := Ref{Block: 3, Offset: 0, Total: 2}
	cts := [][]byte{[]byte("ct0"), []byte("ct1")}
	sig := Sign(priv, b, r, cts)
	mut := func(f func(*Binding, *Ref, *[][]byte)) (Binding, Ref, [][]byte) {
		b2, r2, c2 := b, r, append([][]byte{}, cts...)
		f(&b2, &r2, &c2)
		return b2, r2, c2
	}
	for _, tc := range []struct {
		name string
		pub  ed25519.PublicKey
		sig  []byte
		f    func(*Binding, *Ref, *[][]byte)
		ok   bool
	}{
		{"valid", pub, sig, func(*Binding, *Ref, *[][]byte) {}, true},
		{"another signer (the coordinator)", otherPub, sig, func(*Binding, *Ref, *[][]byte) {}, false},
		{"signed by another key", pub, Sign(otherPriv, b, r, cts), func(*Binding, *Ref, *[][]byte) {}, false},
		{"another query (replay)", pub, sig, func(b *Binding, _ *Ref, _ *[][]byte) { b.QueryID = "q-2" }, false},
		{"another plan", pub, sig, func(b *Binding, _ *Ref, _ *[][]byte) { b.PlanHash[0] = 2 }, false},
		{"another position", pub, sig, func(b *Binding, _ *Ref, _ *[][]byte) { b.Position = 0 }, false},
		{"moved to another block (reorder)", pub, sig, func(_ *Binding, r *Ref, _ *[][]byte) { r.Block = 4 }, false},
		{"another offset", pub, sig, func(_ *Binding, r *Ref, _ *[][]byte) { r.Offset = 1 }, false},
		{"another total", pub, sig, func(_ *Binding, r *Ref, _ *[][]byte) { r.Total = 3 }, false},
		{"altered ciphertext", pub, sig, func(_ *Binding, _ *Ref, c *[][]byte) { (*c)[1] = []byte("ctX") }, false},
		{"swapped ciphertexts", pub, sig, func(_ *Binding, _ *Ref, c *[][]byte) { (*c)[0], (*c)[1] = (*c)[1], (*c)[0] }, false},
		{"dropped ciphertext", pub, sig, func(_ *Binding, _ *Ref, c *[][]byte) { *c = (*c)[:1] }, false},
		{"split differently", pub, sig, func(_ *Binding, _ *Ref, c *[][]byte) { *c = [][]byte{[]byte("ct0ct1")} }, false},
		{"no signature", pub, nil, func(*Binding, *Ref, *[][]byte) {}, false},
		{"no key", nil, sig, func(*Binding, *Ref, *[][]byte) {}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b2, r2, c2 := mut(tc.f)
			err := Verify(tc.pub, b2, r2, c2, tc.sig)
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrBadSignature)) {
				t.Fatalf("Verify: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestVerifyPacked(t *testing.T) {
	pub, priv := keys(t)
	otherPub, otherPriv := keys(t)
	b := Binding{QueryID: "q-1", PlanHash: [32]byte{1}, Position: 2}
	ct := []byte("packed-0")
	sig := SignPacked(priv, b, 0, 2, ct)
	chainSig := Sign(priv, b, Ref{Block: 0, Offset: 0, Total: 2}, [][]byte{ct})
	type args struct {
		b            Binding
		index, total uint32
		ct           []byte
	}
	for _, tc := range []struct {
		name string
		pub  ed25519.PublicKey
		sig  []byte
		f    func(*args)
		ok   bool
	}{
		{"valid", pub, sig, func(*args) {}, true},
		{"another signer (the coordinator)", otherPub, sig, func(*args) {}, false},
		{"signed by another key", pub, SignPacked(otherPriv, b, 0, 2, ct), func(*args) {}, false},
		{"a chain-block signature of the same bytes", pub, chainSig, func(*args) {}, false},
		{"another query's output", pub, sig, func(a *args) { a.b.QueryID = "q-2" }, false},
		{"another plan", pub, sig, func(a *args) { a.b.PlanHash[0] = 2 }, false},
		{"a middle party's position", pub, sig, func(a *args) { a.b.Position = 1 }, false},
		{"another packed index", pub, sig, func(a *args) { a.index = 1 }, false},
		{"another packed count", pub, sig, func(a *args) { a.total = 1 }, false},
		{"index beyond count", pub, SignPacked(priv, b, 2, 2, ct), func(a *args) { a.index = 2 }, false},
		{"altered ciphertext", pub, sig, func(a *args) { a.ct = []byte("packed-X") }, false},
		{"empty ciphertext", pub, sig, func(a *args) { a.ct = nil }, false},
		{"no signature", pub, nil, func(*args) {}, false},
		{"truncated signature", pub, sig[:63], func(*args) {}, false},
		{"no key", nil, sig, func(*args) {}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := args{b: b, index: 0, total: 2, ct: ct}
			tc.f(&a)
			err := VerifyPacked(tc.pub, a.b, a.index, a.total, a.ct, tc.sig)
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrNotPackedOutput)) {
				t.Fatalf("VerifyPacked: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
