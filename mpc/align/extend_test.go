package align

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

func elem(b byte) []byte {
	e := make([]byte, ElementSize)
	e[0], e[31] = b, b
	return e
}

// TestExtend: a pseudonym in the union keeps its slot, new ones are
// numbered after the union in bytewise order whichever party brought
// them, one brought by two parties gets one slot, and the commitment
// chains the previous one with the new pseudonyms.
func TestExtend(t *testing.T) {
	union := map[[ElementSize]byte]uint32{[ElementSize]byte(elem(5)): 0, [ElementSize]byte(elem(1)): 1, [ElementSize]byte(elem(9)): 2}
	lookup := func(k [ElementSize]byte) (uint32, bool) { s, ok := union[k]; return s, ok }
	prev := [32]byte{1, 2, 3}
	sets := map[string][][]byte{
		"bank":    {elem(7), elem(1), elem(3)}, // 1 known at slot 1
		"telecom": {elem(3)},                   // the bank's new 3 too
		"utility": {},
	}
	ranks, added, size, hash, err := Extend(lookup, 3, prev, sets)
	if err != nil {
		t.Fatal(err)
	}
	// New pseudonyms 3 and 7, sorted: 3 → slot 3, 7 → slot 4.
	if want := []uint32{4, 1, 3}; !slices.Equal(ranks["bank"], want) {
		t.Fatalf("bank ranks %v, want %v", ranks["bank"], want)
	}
	if want := []uint32{3}; !slices.Equal(ranks["telecom"], want) {
		t.Fatalf("telecom ranks %v, want %v", ranks["telecom"], want)
	}
	if len(ranks["utility"]) != 0 || size != 5 || len(added) != 2 || !bytes.Equal(added[0][:], elem(3)) || !bytes.Equal(added[1][:], elem(7)) {
		t.Fatalf("utility %v, size %d, added %x", ranks["utility"], size, added)
	}
	if hash != ExtendHash(prev, 3, added) {
		t.Fatal("hash is not ExtendHash of the added pseudonyms")
	}
	// The slots do not depend on which party brought a new person.
	swapped := map[string][][]byte{"bank": {elem(1)}, "telecom": {elem(3), elem(7)}, "utility": {}}
	r2, _, _, h2, err := Extend(lookup, 3, prev, swapped)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r2["telecom"], []uint32{3, 4}) || h2 != hash {
		t.Fatalf("slots depend on party order: %v, hash equal %v", r2["telecom"], h2 == hash)
	}
	// Another previous hash, another commitment.
	if _, _, _, h3, _ := Extend(lookup, 3, [32]byte{9}, sets); h3 == hash {
		t.Fatal("the commitment does not chain the previous one")
	}
	// Nothing added: the size stays and the commitment still chains.
	_, none, size, h4, err := Extend(lookup, 3, prev, map[string][][]byte{"bank": {}})
	if err != nil || len(none) != 0 || size != 3 || h4 == prev {
		t.Fatalf("empty change: %v %d %d", err, len(none), size)
	}
}

func TestExtendRefusesBadSets(t *testing.T) {
	lookup := func([ElementSize]byte) (uint32, bool) { return 0, false }
	for name, sets := range map[string]map[string][][]byte{
		"short element": {"bank": {make([]byte, 31)}},
		"duplicate":     {"bank": {elem(2), elem(2)}},
	} {
		if _, _, _, _, err := Extend(lookup, 0, [32]byte{}, sets); !errors.Is(err, ErrBadSet) {
			t.Errorf("%s: %v, want ErrBadSet", name, err)
		}
	}
}

// TestCheckAddedRanks plays a coordinator that sends an incremental
// epoch's ranks that a party must refuse.
func TestCheckAddedRanks(t *testing.T) {
	kept := []uint32{0, 2, 5}
	for _, c := range []struct {
		name           string
		added          []uint32
		prev, entities uint64
		ok             bool
	}{
		{"new slots", []uint32{6, 7}, 6, 8, true},
		{"slot known at another party", []uint32{1, 6}, 6, 7, true},
		{"nothing added", nil, 6, 6, true},
		{"collides with a kept slot", []uint32{2}, 6, 6, false},
		{"out of range", []uint32{8}, 6, 8, false},
		{"twice the same slot", []uint32{6, 6}, 6, 7, false},
		{"union shrank", []uint32{1}, 6, 5, false},
		{"union too small for the rows", []uint32{1, 3}, 3, 4, false},
		{"union beyond 2^32", []uint32{1}, 6, 1<<32 + 1, false},
	} {
		err := CheckAddedRanks(c.added, kept, c.prev, c.entities)
		if (err == nil) != c.ok {
			t.Errorf("%s: %v, want ok %v", c.name, err, c.ok)
		}
	}
}

func TestKeyEncoding(t *testing.T) {
	k, err := NewKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := k.Encode()
	if err != nil {
		t.Fatal(err)
	}
	k2, err := DecodeKey(b)
	if err != nil {
		t.Fatal(err)
	}
	a1, _ := BlindIDs(t.Context(), k, []string{"p1"}, 1)
	a2, _ := BlindIDs(t.Context(), k2, []string{"p1"}, 1)
	if !bytes.Equal(a1[0], a2[0]) {
		t.Fatal("a decoded key blinds differently")
	}
	c := k.Clone()
	c.Erase()
	if _, err := BlindIDs(t.Context(), k, []string{"p1"}, 1); err != nil {
		t.Fatal("erasing a clone erased the key")
	}
	for name, bad := range map[string][]byte{"zero": make([]byte, KeySize), "short": b[:31], "non-canonical": bytes.Repeat([]byte{0xff}, KeySize)} {
		if _, err := DecodeKey(bad); !errors.Is(err, ErrBadKey) {
			t.Errorf("%s key decoded: %v", name, err)
		}
	}
	k.Erase()
	if _, err := k.Encode(); !errors.Is(err, ErrBadKey) {
		t.Fatal("an erased key encoded")
	}
}
