package align

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"testing"
)

// consortium is a test fixture: party names, their signing keys and blinding keys.
type consortium struct {
	parties []string
	priv    map[string]ed25519.PrivateKey
	pub     map[string]ed25519.PublicKey
	blind   map[string]*Key
}

func newConsortium(t testing.TB, parties ...string) *consortium {
	t.Helper()
	c := &consortium{
		parties: parties,
		priv:    map[string]ed25519.PrivateKey{},
		pub:     map[string]ed25519.PublicKey{},
		blind:   map[string]*Key{},
	}
	for i, p := range append(slices.Clone(parties), "mallory") {
		pub, priv, err := ed25519.GenerateKey(testRand(uint64(100 + i)))
		if err != nil {
			t.Fatal(err)
		}
		c.priv[p], c.pub[p] = priv, pub
		c.blind[p] = mustKey(t, uint64(200+i))
	}
	return c
}

// route sends origin's ids through every party the way the party daemons
// do: the origin blinds and signs, then every other party verifies, blinds
// and signs. It returns the final list and its chain.
func (c *consortium) route(t testing.TB, epoch, origin string, ids []string) ([][]byte, Provenance) {
	t.Helper()
	ctx := context.Background()
	elems, err := BlindIDs(ctx, c.blind[origin], ids, 2)
	if err != nil {
		t.Fatal(err)
	}
	chain := Provenance{Epoch: epoch, Origin: origin, Size: uint32(len(elems))}
	if err := Sign(&chain, origin, c.priv[origin], elems); err != nil {
		t.Fatal(err)
	}
	start := slices.Index(c.parties, origin)
	for j := 1; j < len(c.parties); j++ {
		p := c.parties[(start+j)%len(c.parties)]
		if err := Verify(chain, elems, c.pub, c.parties); err != nil {
			t.Fatalf("%s verifying the list of %s: %v", p, origin, err)
		}
		if chain.HasSigner(p) {
			t.Fatalf("%s asked to blind the list of %s twice", p, origin)
		}
		if elems, err = Blind(ctx, c.blind[p], elems, 2); err != nil {
			t.Fatal(err)
		}
		if err := Sign(&chain, p, c.priv[p], elems); err != nil {
			t.Fatal(err)
		}
	}
	if err := Verify(chain, elems, c.pub, c.parties); err != nil {
		t.Fatal(err)
	}
	if err := Complete(chain, c.parties); err != nil {
		t.Fatal(err)
	}
	return elems, chain
}

// forgeHop appends a hop correctly signed by signer with key priv, bypassing
// Sign's own checks, as a malicious party could.
func forgeHop(c *Provenance, signer string, priv ed25519.PrivateKey, elems [][]byte) {
	var prev []byte
	if n := len(c.Hops); n > 0 {
		prev = c.Hops[n-1].Sig
	}
	eh := ElemsHash(elems)
	sig := ed25519.Sign(priv, hopMessage(c, len(c.Hops), signer, eh, prev))
	c.Hops = append(slices.Clip(c.Hops), Hop{Signer: signer, ElemsHash: eh, Sig: sig})
}

func cloneChain(c Provenance) Provenance {
	c.Hops = slices.Clone(c.Hops)
	for i := range c.Hops {
		c.Hops[i].Sig = slices.Clone(c.Hops[i].Sig)
	}
	return c
}

func cloneElems(e [][]byte) [][]byte {
	out := make([][]byte, len(e))
	for i := range e {
		out[i] = slices.Clone(e[i])
	}
	return out
}

func TestVerifyRejects(t *testing.T) {
	c := newConsortium(t, "telecom", "bank", "utility")
	elems, chain := c.route(t, "epoch-1", "bank", ids("v", 20))

	cases := []struct {
		name   string
		mutate func(ch *Provenance, e *[][]byte, parties *[]string)
		want   error
	}{
		{"tampered element", func(_ *Provenance, e *[][]byte, _ *[]string) { (*e)[3][0] ^= 1 }, ErrBadSignature},
		{"replaced element", func(_ *Provenance, e *[][]byte, _ *[]string) { (*e)[3] = HashID("guess") }, ErrBadSignature},
		{"swapped elements", func(_ *Provenance, e *[][]byte, _ *[]string) { (*e)[0], (*e)[1] = (*e)[1], (*e)[0] }, ErrBadSignature},
		{"reordered hops", func(ch *Provenance, _ *[][]byte, _ *[]string) { ch.Hops[1], ch.Hops[2] = ch.Hops[2], ch.Hops[1] }, ErrBadSignature},
		{"dropped middle hop", func(ch *Provenance, _ *[][]byte, _ *[]string) { ch.Hops = slices.Delete(ch.Hops, 1, 2) }, ErrBadSignature},
		{"origin hop missing", func(ch *Provenance, _ *[][]byte, _ *[]string) { ch.Hops = ch.Hops[1:] }, ErrBadProvenance},
		{"no hops", func(ch *Provenance, _ *[][]byte, _ *[]string) { ch.Hops = nil }, ErrBadProvenance},
		{"origin renamed", func(ch *Provenance, _ *[][]byte, _ *[]string) { ch.Origin = "telecom" }, ErrBadProvenance},
		{"origin unknown", func(ch *Provenance, _ *[][]byte, _ *[]string) { ch.Origin = "mallory" }, ErrUnknownSigner},
		{"epoch changed", func(ch *Provenance, _ *[][]byte, _ *[]string) { ch.Epoch = "epoch-2" }, ErrBadSignature},
		{"signed size changed", func(ch *Provenance, e *[][]byte, _ *[]string) {
			ch.Size++
			*e = append(*e, HashID("extra"))
		}, ErrBadSignature},
		{"list longer than size", func(_ *Provenance, e *[][]byte, _ *[]string) { *e = append(*e, HashID("extra")) }, ErrBadProvenance},
		{"list shorter than size", func(_ *Provenance, e *[][]byte, _ *[]string) { *e = (*e)[:len(*e)-1] }, ErrBadProvenance},
		{"truncated signature", func(ch *Provenance, _ *[][]byte, _ *[]string) { ch.Hops[2].Sig = ch.Hops[2].Sig[:10] }, ErrBadSignature},
		{"flipped signature bit", func(ch *Provenance, _ *[][]byte, _ *[]string) { ch.Hops[1].Sig[5] ^= 0x80 }, ErrBadSignature},
		{"signer renamed", func(ch *Provenance, _ *[][]byte, _ *[]string) { ch.Hops[1].Signer = ch.Hops[2].Signer }, ErrBadProvenance},
		{"unknown signer appended", func(ch *Provenance, e *[][]byte, _ *[]string) {
			// The coordinator (or an outsider) cannot add a hop even with a valid signature.
			forgeHop(ch, "mallory", c.priv["mallory"], *e)
		}, ErrUnknownSigner},
		{"signer without key", func(_ *Provenance, _ *[][]byte, parties *[]string) {
			*parties = append(*parties, "newbie") // a party we have no key for
		}, nil},
		{"duplicate signer", func(ch *Provenance, e *[][]byte, _ *[]string) {
			forgeHop(ch, "telecom", c.priv["telecom"], *e)
		}, ErrBadProvenance},
		{"last hop impersonated", func(ch *Provenance, e *[][]byte, _ *[]string) {
			last := ch.Hops[2].Signer
			ch.Hops = ch.Hops[:2]
			forgeHop(ch, last, c.priv["mallory"], *e)
		}, ErrBadSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ch, e, parties := cloneChain(chain), cloneElems(elems), slices.Clone(c.parties)
			tc.mutate(&ch, &e, &parties)
			err := Verify(ch, e, c.pub, parties)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v, want success", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify err = %v, want %v", err, tc.want)
			}
		})
	}

	t.Run("untouched chain verifies", func(t *testing.T) {
		if err := Verify(chain, elems, c.pub, c.parties); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("party without a key", func(t *testing.T) {
		pub := map[string]ed25519.PublicKey{"bank": c.pub["bank"], "telecom": c.pub["telecom"], "utility": c.pub["utility"][:5]}
		if err := Verify(chain, elems, pub, c.parties); !errors.Is(err, ErrUnknownSigner) {
			t.Fatalf("err = %v, want ErrUnknownSigner", err)
		}
		delete(pub, "utility")
		if err := Verify(chain, elems, pub, c.parties); !errors.Is(err, ErrUnknownSigner) {
			t.Fatalf("err = %v, want ErrUnknownSigner", err)
		}
	})
	t.Run("signer dropped from parties", func(t *testing.T) {
		if err := Verify(chain, elems, c.pub, []string{"bank", "telecom"}); !errors.Is(err, ErrUnknownSigner) {
			t.Fatalf("err = %v, want ErrUnknownSigner", err)
		}
	})
}

func TestComplete(t *testing.T) {
	c := newConsortium(t, "telecom", "bank", "utility")
	elems, full := c.route(t, "e", "telecom", ids("c", 5))
	cases := []struct {
		name    string
		chain   func() Provenance
		parties []string
		want    error
	}{
		{"complete", func() Provenance { return full }, c.parties, nil},
		{"missing last signer", func() Provenance { ch := cloneChain(full); ch.Hops = ch.Hops[:2]; return ch }, c.parties, ErrIncomplete},
		{"origin only", func() Provenance { ch := cloneChain(full); ch.Hops = ch.Hops[:1]; return ch }, c.parties, ErrIncomplete},
		{"new party joined", func() Provenance { return full }, append(slices.Clone(c.parties), "water"), ErrIncomplete},
		{"signer not a party", func() Provenance { return full }, []string{"telecom", "bank"}, ErrUnknownSigner},
		{"duplicate signer", func() Provenance {
			ch := cloneChain(full)
			forgeHop(&ch, "bank", c.priv["bank"], elems)
			return ch
		}, c.parties, ErrBadProvenance},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Complete(tc.chain(), tc.parties)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Complete err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSignRefuses(t *testing.T) {
	c := newConsortium(t, "telecom", "bank", "utility")
	elems := [][]byte{HashID("a"), HashID("b")}
	fresh := func() *Provenance { return &Provenance{Epoch: "e", Origin: "bank", Size: 2} }
	signed := func() *Provenance {
		ch := fresh()
		if err := Sign(ch, "bank", c.priv["bank"], elems); err != nil {
			t.Fatal(err)
		}
		return ch
	}
	cases := []struct {
		name   string
		chain  *Provenance
		signer string
		priv   ed25519.PrivateKey
		elems  [][]byte
		want   error
	}{
		{"nil chain", nil, "bank", c.priv["bank"], elems, ErrBadProvenance},
		{"first hop not by origin", fresh(), "telecom", c.priv["telecom"], elems, ErrBadProvenance},
		{"second signature by the same party", signed(), "bank", c.priv["bank"], elems, ErrBadProvenance},
		{"size mismatch", fresh(), "bank", c.priv["bank"], elems[:1], ErrBadProvenance},
		{"empty signer", signed(), "", c.priv["bank"], elems, ErrBadProvenance},
		{"short private key", fresh(), "bank", c.priv["bank"][:10], elems, ErrBadKey},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var before int
			if tc.chain != nil {
				before = len(tc.chain.Hops)
			}
			err := Sign(tc.chain, tc.signer, tc.priv, tc.elems)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Sign err = %v, want %v", err, tc.want)
			}
			if tc.chain != nil && len(tc.chain.Hops) != before {
				t.Fatal("a refused Sign changed the chain")
			}
		})
	}
	t.Run("does not write into a shared hops array", func(t *testing.T) {
		base := signed()
		base.Hops = slices.Grow(base.Hops, 4) // spare capacity a naive append would reuse
		a, b := *base, *base
		if err := Sign(&a, "telecom", c.priv["telecom"], elems); err != nil {
			t.Fatal(err)
		}
		if err := Sign(&b, "utility", c.priv["utility"], elems); err != nil {
			t.Fatal(err)
		}
		if a.Hops[1].Signer != "telecom" || b.Hops[1].Signer != "utility" {
			t.Fatalf("branches share hops: %q %q", a.Hops[1].Signer, b.Hops[1].Signer)
		}
	})
}

func TestElemsHashUnambiguous(t *testing.T) {
	big := bytes.Repeat([]byte{7}, 20000) // larger than the internal buffer
	lists := [][][]byte{
		nil,
		{{}},
		{{}, {}},
		{{1, 2}, {3}},
		{{1}, {2, 3}},
		{{1, 2, 3}},
		{big},
		{big[:19999], {7}},
		{{0, 0, 0, 0, 0, 0, 0, 1, 5}},
		{{5}},
	}
	seen := map[[32]byte]int{}
	for i, l := range lists {
		h := ElemsHash(l)
		if j, dup := seen[h]; dup {
			t.Fatalf("lists %d and %d have the same hash", j, i)
		}
		seen[h] = i
	}
	// The hash does not depend on how elements share memory.
	a := [][]byte{HashID("x"), HashID("y")}
	b := cloneElems(a)
	if ElemsHash(a) != ElemsHash(b) {
		t.Fatal("hash depends on memory layout")
	}
	if fmt.Sprint(ElemsHash(nil)) == fmt.Sprint([32]byte{}) {
		t.Fatal("empty list hashes to zero")
	}
}

func FuzzVerify(f *testing.F) {
	c := newConsortium(f, "telecom", "bank", "utility")
	elems, chain := c.route(f, "epoch", "telecom", ids("f", 4))
	f.Add(uint8(0), "telecom", []byte("sig"), []byte{}, "epoch", uint32(4), elems[0], uint8(0))
	f.Add(uint8(3), "mallory", chain.Hops[2].Sig, []byte{1}, "epoch", uint32(4), elems[1], uint8(1))
	f.Add(uint8(255), "", []byte{}, []byte{}, "", uint32(0), []byte{}, uint8(255))
	f.Fuzz(func(t *testing.T, hop uint8, signer string, sig, eh []byte, epoch string, size uint32, elem []byte, at uint8) {
		ch, e := cloneChain(chain), cloneElems(elems)
		ch.Epoch, ch.Size = epoch, size
		switch i := int(hop) % 5; {
		case i < len(ch.Hops):
			ch.Hops[i].Signer = signer
			ch.Hops[i].Sig = sig
			copy(ch.Hops[i].ElemsHash[:], eh)
		case i == len(ch.Hops):
			ch.Hops = append(ch.Hops, Hop{Signer: signer, Sig: sig})
		default:
			ch.Hops = ch.Hops[:int(hop)%len(ch.Hops)]
		}
		if int(at)%8 < len(e) {
			e[int(at)%8] = elem
		} else {
			e = append(e, elem)
		}
		err := Verify(ch, e, c.pub, c.parties)
		if err == nil {
			// Only an unaltered chain over the signed list, or an honest
			// prefix of it, may verify; never a forged one.
			if ch.Epoch != chain.Epoch || ch.Size != chain.Size || len(ch.Hops) > len(chain.Hops) {
				t.Fatalf("forged chain verified: %+v", ch)
			}
			for i, h := range ch.Hops {
				if h.Signer != chain.Hops[i].Signer || !bytes.Equal(h.Sig, chain.Hops[i].Sig) || h.ElemsHash != chain.Hops[i].ElemsHash {
					t.Fatalf("hop %d forged but verified", i)
				}
			}
			if ElemsHash(e) != ch.Hops[len(ch.Hops)-1].ElemsHash {
				t.Fatal("list not matching the last hop verified")
			}
			return
		}
		if !errors.Is(err, ErrBadProvenance) && !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrUnknownSigner) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		_ = Complete(ch, c.parties)
	})
}
