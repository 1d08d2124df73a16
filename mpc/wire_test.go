package mpc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
)

func TestCiphertextRoundTrip(t *testing.T) {
	p := mustParams(t, testSet)
	sk := p.NewSecretKey()
	pk := rlwe.NewKeyGenerator(p.BGV).GenPublicKeyNew(sk)
	w := p.NewWorker(pk, nil)
	vals := []uint64{1, 2, 3, p.T() - 1}
	for chain := 1; chain <= MaxChain; chain++ {
		ct, err := w.EncryptBlock(vals, chain)
		if err != nil {
			t.Fatal(err)
		}
		b, err := p.MarshalCiphertext(ct)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != p.CiphertextSize(ct.Level()) {
			t.Fatalf("size %d, want %d", len(b), p.CiphertextSize(ct.Level()))
		}
		got, err := p.UnmarshalCiphertext(b, ct.Level(), ct.Scale)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Value[0].Equal(&ct.Value[0]) || !got.Value[1].Equal(&ct.Value[1]) {
			t.Fatal("ciphertext round trip changed coefficients")
		}
	}
	pkb := p.MarshalPublicKey(pk)
	pk2, err := p.UnmarshalPublicKey(pkb)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p.MarshalPublicKey(pk2), pkb) {
		t.Fatal("public key round trip differs")
	}
	sk2, err := p.UnmarshalSecretKey(p.MarshalSecretKey(sk))
	if err != nil || !sk2.Value.Equal(&sk.Value) {
		t.Fatalf("secret key round trip: %v", err)
	}
}

func TestDecoderRejectsHostileBytes(t *testing.T) {
	p := mustParams(t, testSet)
	good := make([]byte, p.CiphertextSize(1))
	big := make([]byte, len(good))
	copy(big, good)
	binary.LittleEndian.PutUint64(big[8*100:], ^uint64(0)) // ≥ every modulus
	cases := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"truncated", good[:len(good)-1]},
		{"oversized", append(append([]byte{}, good...), 0)},
		{"huge", make([]byte, 4*len(good))},
		{"coefficient above modulus", big},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := p.UnmarshalCiphertext(tc.b, 1, p.ScaleAt(1, 1)); !errors.Is(err, ErrMalformed) {
				t.Fatalf("ciphertext: got %v, want ErrMalformed", err)
			}
			if _, err := p.UnmarshalPublicKey(tc.b); !errors.Is(err, ErrMalformed) {
				t.Fatalf("public key: got %v, want ErrMalformed", err)
			}
			if _, err := p.unmarshalPCKSShare(tc.b, DecryptLevel); !errors.Is(err, ErrMalformed) {
				t.Fatalf("decryption share: got %v, want ErrMalformed", err)
			}
			if _, err := p.unmarshalCKGShare(tc.b); !errors.Is(err, ErrMalformed) {
				t.Fatalf("public key share: got %v, want ErrMalformed", err)
			}
			if _, err := p.unmarshalGKGShare(tc.b, p.GaloisElements()[0]); !errors.Is(err, ErrMalformed) {
				t.Fatalf("rotation key share: got %v, want ErrMalformed", err)
			}
			if _, err := p.UnmarshalGaloisKey(tc.b, p.GaloisElements()[0]); !errors.Is(err, ErrMalformed) {
				t.Fatalf("rotation key: got %v, want ErrMalformed", err)
			}
		})
	}
	if _, err := p.UnmarshalCiphertext(good, p.MaxLevel()+1, p.ScaleAt(1, 1)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("bad level: got %v", err)
	}
	if _, err := p.UnmarshalCiphertext(good, 1, p.ScaleAt(1, 1)); err != nil {
		t.Fatalf("all-zero ciphertext of the right size must decode: %v", err)
	}
}

// TestGaloisKeyRoundTrip: a rotation key survives the wire and still
// rotates (a packed total decrypts); a key for an element packing does
// not use, or with a coefficient at the modulus, is refused.
func TestGaloisKeyRoundTrip(t *testing.T) {
	p := mustParams(t, testSet)
	sk := p.NewSecretKey()
	kg := rlwe.NewKeyGenerator(p.BGV)
	var gks []*rlwe.GaloisKey
	for _, el := range p.GaloisElements() {
		raw := p.MarshalGaloisKey(kg.GenGaloisKeyNew(el, sk))
		gk, err := p.UnmarshalGaloisKey(raw, el)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p.MarshalGaloisKey(gk), raw) || gk.GaloisElement != el {
			t.Fatalf("element %d: round trip differs", el)
		}
		gks = append(gks, gk)
	}
	raw := p.MarshalGaloisKey(gks[0])
	if _, err := p.UnmarshalGaloisKey(raw, 3); !errors.Is(err, ErrMalformed) {
		t.Fatalf("unused Galois element: got %v", err)
	}
	bad := bytes.Clone(raw)
	binary.LittleEndian.PutUint64(bad[8:], p.BGV.RingQ().ModuliChain()[0])
	if _, err := p.UnmarshalGaloisKey(bad, gks[0].GaloisElement); !errors.Is(err, ErrMalformed) {
		t.Fatalf("coefficient at the modulus: got %v", err)
	}
	w := p.NewWorker(rlwe.NewKeyGenerator(p.BGV).GenPublicKeyNew(sk), rlwe.NewMemEvaluationKeySet(nil, gks...))
	ct, err := w.EncryptBlock([]uint64{3, 4}, 1)
	if err != nil {
		t.Fatal(err)
	}
	packed, err := w.Pack([]*rlwe.Ciphertext{ct})
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.DecryptPacked(sk, packed, 1)
	if err != nil || got[0] != 7 {
		t.Fatalf("packed with decoded keys: %v, %v; want 7", got, err)
	}
}

func TestAggregateRejectsBadShares(t *testing.T) {
	p := mustParams(t, testSet)
	seed := [32]byte{1}
	if _, err := p.AggregatePublicKey(seed, map[string][]byte{"bank": {1, 2, 3}}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("got %v", err)
	}
	if _, err := p.AggregateGaloisKey(seed, p.GaloisElements()[0], map[string][]byte{"bank": {1}}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("got %v", err)
	}
}

// FuzzDecode feeds arbitrary bytes to every decoder of network values: it
// must return a value or an ErrMalformed error, never panic or allocate
// beyond the expected shape.
func FuzzDecode(f *testing.F) {
	p := mustParams(f, testSet)
	f.Add([]byte{})
	f.Add(make([]byte, p.CiphertextSize(0)))
	f.Add(bytes.Repeat([]byte{0xff}, 64))
	f.Fuzz(func(t *testing.T, b []byte) {
		for level := 0; level <= p.MaxLevel(); level++ {
			if _, err := p.UnmarshalCiphertext(b, level, p.ScaleAt(level, level)); err != nil && !errors.Is(err, ErrMalformed) {
				t.Fatalf("ciphertext: unexpected error kind %v", err)
			}
		}
		for _, dec := range []func([]byte) error{
			func(b []byte) error { _, err := p.UnmarshalPublicKey(b); return err },
			func(b []byte) error { _, err := p.unmarshalPCKSShare(b, DecryptLevel); return err },
			func(b []byte) error { _, err := p.unmarshalCKGShare(b); return err },
			func(b []byte) error { _, err := p.UnmarshalGaloisKey(b, p.GaloisElements()[0]); return err },
		} {
			if err := dec(b); err != nil && !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error kind %v", err)
			}
		}
	})
}

// TestDegenerateKeyRefused: a public key anyone could "decrypt" for is
// refused at decoding: all zero, b = e from a zero secret, or one of its
// two polynomials zeroed; a real key and the collective key pass.
func TestDegenerateKeyRefused(t *testing.T) {
	p := mustParams(t, testSet)
	kg := rlwe.NewKeyGenerator(p.BGV)
	good := p.MarshalPublicKey(kg.GenPublicKeyNew(p.NewSecretKey()))
	zeroSecret := p.MarshalPublicKey(kg.GenPublicKeyNew(rlwe.NewSecretKey(p.BGV)))
	half := bytes.Clone(good)
	clear(half[:len(half)/2]) // b's Q and P limbs zeroed
	for _, tc := range []struct {
		name string
		b    []byte
		ok   bool
	}{
		{"fresh key", good, true},
		{"all zero", make([]byte, len(good)), false},
		{"zero secret (b = e)", zeroSecret, false},
		{"b zeroed", half, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.UnmarshalPublicKey(tc.b)
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrDegenerateKey)) {
				t.Fatalf("UnmarshalPublicKey: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
