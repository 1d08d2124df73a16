package align

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
	"github.com/gtank/ristretto255"
)

// rfc9496Multiples are the encodings of 0·B … 15·B from RFC 9496 Appendix
// A.1 ("Multiples of the Generator").
var rfc9496Multiples = []string{
	"0000000000000000000000000000000000000000000000000000000000000000",
	"e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76",
	"6a493210f7499cd17fecb510ae0cea23a110e8d5b901f8acadd3095c73a3b919",
	"94741f5d5d52755ece4f23f044ee27d5d1ea1e2bd196b462166b16152a9d0259",
	"da80862773358b466ffadfe0b3293ab3d9fd53c5ea6c955358f568322daf6a57",
	"e882b131016b52c1d3337080187cf768423efccbb517bb495ab812c4160ff44e",
	"f64746d3c92b13050ed8d80236a7f0007c3b3f962f5ba793d19a601ebb1df403",
	"44f53520926ec81fbd5a387845beb7df85a96a24ece18738bdcfa6a7822a176d",
	"903293d8f2287ebe10e2374dc1a53e0bc887e592699f02d077d5263cdd55601c",
	"02622ace8f7303a31cafc63f8fc48fdc16e1c8c8d234b2f0d6685282a9076031",
	"20706fd788b2720a1ed2a5dad4952b01f413bcf0e7564de8cdc816689e2db95f",
	"bce83f8ba5dd2fa572864c24ba1810f9522bc6004afe95877ac73241cafdab42",
	"e4549ee16b9aa03099ca208c67adafcafa4c3f3e4e5303de6026e3ca8ff84460",
	"aa52e000df2e16f55fb1032fc33bc42742dad6bd5a8fc0be0167436c5948501f",
	"46376b80f409b29dc2b5f6f0c52591990896e5716f41477cd30085ab7f10301e",
	"e0c418f7c8d9c4cdd7395b93ea124f3ad99021bb681dfc3302a9d99a2e53e64e",
}

func mustHex(t testing.TB, h string) []byte {
	t.Helper()
	b, err := hex.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// smallScalar is the scalar k < 256 for filippo.io/edwards25519.
func smallScalar(t testing.TB, k int) *edwards25519.Scalar {
	t.Helper()
	var b [32]byte
	b[0] = byte(k)
	s, err := edwards25519.NewScalar().SetCanonicalBytes(b[:])
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// torsion4 returns the four points of E[4] on edwards25519: the identity,
// (0, -1), and (±sqrt(-1), 0).
func torsion4(t testing.TB) []*edwards25519.Point {
	t.Helper()
	out := []*edwards25519.Point{edwards25519.NewIdentityPoint()}
	for _, h := range []string{
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = -1
		"0000000000000000000000000000000000000000000000000000000000000000", // y = 0, x > 0
		"0000000000000000000000000000000000000000000000000000000000000080", // y = 0, x < 0
	} {
		p, err := new(edwards25519.Point).SetBytes(mustHex(t, h))
		if err != nil {
			t.Fatalf("torsion point %s: %v", h, err)
		}
		out = append(out, p)
	}
	return out
}

// ecdhX25519 is X25519(scalar, u) through the standard library's crypto/ecdh,
// an implementation independent of the one Blind uses.
func ecdhX25519(t testing.TB, scalar, u []byte) []byte {
	t.Helper()
	priv, err := ecdh.X25519().NewPrivateKey(scalar)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ecdh.X25519().NewPublicKey(u)
	if err != nil {
		t.Fatal(err)
	}
	r, err := priv.ECDH(pub)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestMontgomeryMapRFC9496 checks the hash-to-curve's second half, RFC 9496
// decoding followed by u = (1+y)/(1-y), against RFC 9496's encodings of the
// multiples k·B of the generator: the u it gives is that of k·B plus a
// 4-torsion point (the coset representative decoding picks), and blinding
// with a clamped scalar (a multiple of 8) gives exactly the blinding of
// k·B's own u-coordinate, computed independently by filippo.io/edwards25519.
func TestMontgomeryMapRFC9496(t *testing.T) {
	m := newMontgomeryMap()
	torsion := torsion4(t)
	key := bytes.Repeat([]byte{0x5a}, 32)
	for k, h := range rfc9496Multiples {
		t.Run(fmt.Sprintf("%d·B", k), func(t *testing.T) {
			enc := mustHex(t, h)
			// The vector is what ristretto255 itself says k·B is.
			var kb ristretto255.Element
			var sc ristretto255.Scalar
			var sb [32]byte
			sb[0] = byte(k)
			if err := sc.Decode(sb[:]); err != nil {
				t.Fatal(err)
			}
			kb.ScalarBaseMult(&sc)
			if !bytes.Equal(kb.Encode(nil), enc) {
				t.Fatalf("vector %d is not ristretto255's %d·B", k, k)
			}
			u := make([]byte, ElementSize)
			if err := m.fromEncoding(u, enc); err != nil {
				t.Fatalf("RFC 9496 decoding refused vector %d: %v", k, err)
			}
			uu := make([]byte, ElementSize)
			if err := m.uCoordinate(uu, &kb); err != nil || !bytes.Equal(u, uu) {
				t.Fatalf("uCoordinate %x, fromEncoding %x (err %v)", uu, u, err)
			}
			if k == 0 {
				if !bytes.Equal(u, make([]byte, ElementSize)) {
					t.Fatalf("identity maps to u = %x, want 0 (refused by Blind)", u)
				}
				return
			}
			p := new(edwards25519.Point).ScalarBaseMult(smallScalar(t, k))
			var candidates []string
			for _, tp := range torsion {
				candidates = append(candidates, hex.EncodeToString(new(edwards25519.Point).Add(p, tp).BytesMontgomery()))
			}
			if !slices.Contains(candidates, hex.EncodeToString(u)) {
				t.Fatalf("u = %x is not the u of %d·B + E[4] %v", u, k, candidates)
			}
			if got, want := ecdhX25519(t, key, u), ecdhX25519(t, key, p.BytesMontgomery()); !bytes.Equal(got, want) {
				t.Fatalf("blinded %x, blinding of %d·B's u %x", got, k, want)
			}
		})
	}
}

// TestMontgomeryMapRefusesBadEncodings feeds RFC 9496's bad encodings
// (Appendix A.2) to the decoding.
func TestMontgomeryMapRefusesBadEncodings(t *testing.T) {
	m := newMontgomeryMap()
	u := make([]byte, ElementSize)
	for _, h := range []string{
		"00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // non-canonical
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"0100000000000000000000000000000000000000000000000000000000000000", // negative
		"01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"26948d35ca62e643e26a83177332e6b6afeb9d08e4268b650f1f5bbd8d81d371", // non-square x²
		"3eb858e78f5a7254d8c9731174a94f76755fd3941c0ac93735c07ba14579630e", // negative xy
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // s = -1
	} {
		if err := m.fromEncoding(u, mustHex(t, h)); !errors.Is(err, errNotRistretto) {
			t.Errorf("%s: err = %v, want errNotRistretto", h, err)
		}
	}
	if err := m.fromEncoding(u, make([]byte, 31)); !errors.Is(err, errNotRistretto) {
		t.Errorf("31 bytes: err = %v", err)
	}
}

// TestHashIDOnCurve: H(id) lies on Curve25519 itself (v² = u³ + 486662u² + u
// has a solution), not on its twist, and is never a low-order point.
func TestHashIDOnCurve(t *testing.T) {
	a := smallElement(486662)
	for _, id := range append(ids("curve", 200), "", "\x00") {
		h := HashID(id)
		if err := checkElement(h); err != nil {
			t.Fatalf("%q: %v", id, err)
		}
		u, err := new(field.Element).SetBytes(h)
		if err != nil {
			t.Fatal(err)
		}
		u2 := new(field.Element).Square(u)
		rhs := new(field.Element).Multiply(u2, u)
		rhs.Add(rhs, new(field.Element).Multiply(a, u2))
		rhs.Add(rhs, u)
		if _, sq := new(field.Element).SqrtRatio(rhs, new(field.Element).One()); sq != 1 {
			t.Fatalf("H(%q) = %x is on the twist", id, h)
		}
	}
}

// permutations returns every order of keys.
func permutations(keys []*Key) [][]*Key {
	if len(keys) <= 1 {
		return [][]*Key{keys}
	}
	var out [][]*Key
	for i := range keys {
		rest := append(append([]*Key{}, keys[:i]...), keys[i+1:]...)
		for _, p := range permutations(rest) {
			out = append(out, append([]*Key{keys[i]}, p...))
		}
	}
	return out
}

// TestPseudonymsMatchInEveryOrder: with 2 and 3 parties, the id's pseudonym
// is the same whichever party hashes it and in whichever order the others
// blind; distinct ids give distinct pseudonyms; a subset of the keys never
// gives the full pseudonym.
func TestPseudonymsMatchInEveryOrder(t *testing.T) {
	ctx := context.Background()
	in := append(ids("o", 40), "shared", "")
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprintf("%d parties", n), func(t *testing.T) {
			var keys []*Key
			for i := range n {
				keys = append(keys, mustKey(t, uint64(20+i)))
			}
			var ref [][]byte
			for _, order := range permutations(keys) {
				e, err := BlindIDs(ctx, order[0], in, 2)
				if err != nil {
					t.Fatal(err)
				}
				for _, k := range order[1:] {
					if e, err = Blind(ctx, k, e, 1); err != nil {
						t.Fatal(err)
					}
				}
				if ref == nil {
					ref = e
					continue
				}
				for i := range in {
					if !bytes.Equal(e[i], ref[i]) {
						t.Fatalf("id %q: pseudonym depends on the blinding order", in[i])
					}
				}
			}
			seen := map[string]string{}
			for i, p := range ref {
				if prev, dup := seen[string(p)]; dup {
					t.Fatalf("ids %q and %q share a pseudonym", prev, in[i])
				}
				seen[string(p)] = in[i]
				if bytes.Equal(p, HashID(in[i])) {
					t.Fatalf("id %q: pseudonym equals H(id)", in[i])
				}
			}
			// One key fewer: never the full pseudonym.
			e, err := BlindIDs(ctx, keys[0], in, 1)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range keys[1 : n-1] {
				if e, err = Blind(ctx, k, e, 1); err != nil {
					t.Fatal(err)
				}
			}
			for i := range in {
				if bytes.Equal(e[i], ref[i]) {
					t.Fatalf("id %q: %d of %d keys give the pseudonym", in[i], n-1, n)
				}
			}
		})
	}
}

// TestKeyEncodingVersions: a key round-trips; a v1 ristretto255 key (32 bytes) is
// refused with ErrOldKey; other lengths, versions and the zero key with
// ErrBadKey; an erased key does not encode.
func TestKeyEncodingVersions(t *testing.T) {
	ctx := context.Background()
	k := mustKey(t, 11)
	b, err := k.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != KeySize || b[0] != keyVersion {
		t.Fatalf("encoding: %d bytes, version %d", len(b), b[0])
	}
	d, err := DecodeKey(b)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := BlindIDs(ctx, k, []string{"a", "b"}, 1)
	y, _ := BlindIDs(ctx, d, []string{"a", "b"}, 1)
	if !bytes.Equal(x[0], y[0]) || !bytes.Equal(x[1], y[1]) {
		t.Fatal("decoded key blinds differently")
	}
	var v1 ristretto255.Scalar
	v1.FromUniformBytes(bytes.Repeat([]byte{7}, 64))
	old := v1.Encode(nil)
	_, err = DecodeKey(old)
	if !errors.Is(err, ErrOldKey) || !errors.Is(err, ErrBadKey) || !strings.Contains(err.Error(), "full alignment") {
		t.Fatalf("v1 key: err = %v, want ErrOldKey and ErrBadKey naming a full alignment", err)
	}
	for name, bad := range map[string][]byte{
		"empty":       nil,
		"short":       b[:20],
		"long":        append(append([]byte{}, b...), 0),
		"version 1":   append([]byte{1}, b[1:]...),
		"version 255": append([]byte{255}, b[1:]...),
		"zero":        append([]byte{keyVersion}, make([]byte, 32)...),
	} {
		if _, err := DecodeKey(bad); !errors.Is(err, ErrBadKey) || errors.Is(err, ErrOldKey) {
			t.Errorf("%s: err = %v, want ErrBadKey only", name, err)
		}
	}
	c := k.Clone()
	k.Erase()
	if _, err := k.Encode(); !errors.Is(err, ErrBadKey) {
		t.Fatalf("erased key encoded: %v", err)
	}
	if _, err := c.Encode(); err != nil {
		t.Fatalf("clone erased with its original: %v", err)
	}
}

// FuzzCheckElement: checkElement accepts exactly the 32-byte strings below
// p = 2^255-19, as field.Element's canonical round trip says.
func FuzzCheckElement(f *testing.F) {
	f.Add(make([]byte, 32))
	f.Add(mustHex(f, "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"))
	f.Add(mustHex(f, "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"))
	f.Add(bytes.Repeat([]byte{0xff}, 32))
	f.Add(HashID("a"))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		err := checkElement(b)
		canonical := false
		if len(b) == 32 {
			e, ferr := new(field.Element).SetBytes(b)
			canonical = ferr == nil && bytes.Equal(e.Bytes(), b)
		}
		if (err == nil) != canonical {
			t.Fatalf("%x: checkElement err = %v, canonical %v", b, err, canonical)
		}
	})
}

// FuzzDecodeKey: DecodeKey never panics, refuses with ErrBadKey, and what it
// accepts re-encodes to the same bytes.
func FuzzDecodeKey(f *testing.F) {
	f.Add(make([]byte, 32))
	f.Add(append([]byte{keyVersion}, bytes.Repeat([]byte{9}, 32)...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := DecodeKey(b)
		if err != nil {
			if !errors.Is(err, ErrBadKey) {
				t.Fatalf("err = %v, want ErrBadKey", err)
			}
			return
		}
		e, err := k.Encode()
		if err != nil || !bytes.Equal(e, b) {
			t.Fatalf("re-encoded %x (err %v), decoded %x", e, err, b)
		}
	})
}

// TestHashMapMatchesRistretto255: the hash-to-curve computed on Edwards
// points (hashMap) is the same ristretto255 element as gtank/ristretto255's
// FromUniformBytes (itself tested against RFC 9496's hash-to-group vectors)
// taken through RFC 9496 encoding and decoding: both u-coordinates blind to
// the same value under clamped scalars (they may differ by a 4-torsion
// point before blinding).
func TestHashMapMatchesRistretto255(t *testing.T) {
	m, ref := newHashMap(), newMontgomeryMap()
	keys := [][]byte{bytes.Repeat([]byte{0x5a}, 32), bytes.Repeat([]byte{0xa7}, 32)}
	for i, id := range append(ids("map", 300), "", "\x00", strings.Repeat("é", 999)) {
		sum := sha512.Sum512([]byte(fmt.Sprintf("input %d %s", i, id)))
		got := make([]byte, ElementSize)
		if err := m.hashToU(got, sum[:]); err != nil {
			t.Fatal(err)
		}
		var e ristretto255.Element
		e.FromUniformBytes(sum[:])
		want := make([]byte, ElementSize)
		if err := ref.uCoordinate(want, &e); err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if !bytes.Equal(ecdhX25519(t, k, got), ecdhX25519(t, k, want)) {
				t.Fatalf("input %d: hashMap u %x and ristretto255 u %x blind differently", i, got, want)
			}
		}
	}
	// HashID is this map on SHA-512 of the domain-separated id.
	sum := sha512.Sum512([]byte(hashDomain + "\x00" + "p-1"))
	var e ristretto255.Element
	e.FromUniformBytes(sum[:])
	want := make([]byte, ElementSize)
	if err := ref.uCoordinate(want, &e); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ecdhX25519(t, keys[0], HashID("p-1")), ecdhX25519(t, keys[0], want)) {
		t.Fatal("HashID is not the v2 domain's hash")
	}
}

// TestBlindIsX25519: Blind (cloudflare/circl's ladder) computes RFC 7748's
// X25519 exactly as the standard library's crypto/ecdh does, on hashed ids
// and on already blinded elements.
func TestBlindIsX25519(t *testing.T) {
	ctx := context.Background()
	k := mustKey(t, 31)
	in := make([][]byte, 0, 300)
	for _, id := range ids("x", 150) {
		in = append(in, HashID(id))
	}
	once, err := Blind(ctx, k, in, 2)
	if err != nil {
		t.Fatal(err)
	}
	in = append(in, once[:150]...)
	got, err := Blind(ctx, k, in, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i, u := range in {
		if want := ecdhX25519(t, k.s[:], u); !bytes.Equal(got[i], want) {
			t.Fatalf("element %d: Blind %x, crypto/ecdh %x", i, got[i], want)
		}
	}
}
