package align

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestAlignmentEndToEnd runs the whole protocol in memory for three parties
// with overlapping customers and checks the ranks against the plain set
// union of the ids.
func TestAlignmentEndToEnd(t *testing.T) {
	c := newConsortium(t, "telecom", "bank", "utility")
	const universe = 600
	holds := map[string]func(int) bool{
		"telecom": func(i int) bool { return i%2 == 0 },
		"bank":    func(i int) bool { return i%3 == 0 || i > 550 },
		"utility": func(i int) bool { return i%5 != 1 && i < 500 },
	}
	idOf := func(i int) string { return fmt.Sprintf("CH-%08d", i) }
	partyIDs := map[string][]string{}
	want := map[string]bool{}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, p := range c.parties {
		var list []string
		for i := range universe {
			if holds[p](i) {
				list = append(list, idOf(i))
				want[idOf(i)] = true
			}
		}
		// Each party keeps its own record order.
		rng.Shuffle(len(list), func(a, b int) { list[a], list[b] = list[b], list[a] })
		partyIDs[p] = list
	}
	partyIDs["bank"] = append(partyIDs["bank"], "émile ü", "") // unusual ids too
	want["émile ü"], want[""] = true, true

	// Every party routes its list; the coordinator checks each chain is
	// complete before merging.
	sets := map[string][][]byte{}
	for _, p := range c.parties {
		elems, chain := c.route(t, "2025-06", p, partyIDs[p])
		if err := Verify(chain, elems, c.pub, c.parties); err != nil {
			t.Fatalf("coordinator verifying %s: %v", p, err)
		}
		if err := Complete(chain, c.parties); err != nil {
			t.Fatalf("coordinator: %v", err)
		}
		sets[p] = elems
	}
	ranks, union, unionHash, err := Ranks(sets)
	if err != nil {
		t.Fatal(err)
	}
	if union != len(want) {
		t.Fatalf("union size %d, want %d (plain union of ids)", union, len(want))
	}
	slotOf := map[string]uint32{}
	idAt := map[uint32]string{}
	for _, p := range c.parties {
		if len(ranks[p]) != len(partyIDs[p]) {
			t.Fatalf("%s: %d ranks for %d records", p, len(ranks[p]), len(partyIDs[p]))
		}
		for i, id := range partyIDs[p] {
			r := ranks[p][i]
			if int(r) >= union {
				t.Fatalf("%s: rank %d outside the union of %d", p, r, union)
			}
			if prev, ok := slotOf[id]; ok && prev != r {
				t.Fatalf("id %q at slot %d at one party and %d at %s", id, prev, r, p)
			}
			if other, ok := idAt[r]; ok && other != id {
				t.Fatalf("ids %q and %q share slot %d", other, id, r)
			}
			slotOf[id], idAt[r] = r, id
		}
	}
	if len(idAt) != union {
		t.Fatalf("%d slots used, union is %d", len(idAt), union)
	}

	// A fresh epoch (new keys) gives a different slot layout but the same
	// union size, and the commitment changes.
	c2 := newConsortium(t, "telecom", "bank", "utility")
	for i, p := range c2.parties {
		c2.blind[p] = mustKey(t, uint64(900+i))
	}
	sets2 := map[string][][]byte{}
	for _, p := range c.parties {
		sets2[p], _ = c2.route(t, "2025-07", p, partyIDs[p])
	}
	_, union2, hash2, err := Ranks(sets2)
	if err != nil {
		t.Fatal(err)
	}
	if union2 != union || hash2 == unionHash {
		t.Fatalf("new epoch: union %d (want %d), hash changed %v", union2, union, hash2 != unionHash)
	}
}

func randomElem(rng *rand.Rand) []byte {
	b := make([]byte, ElementSize)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// naiveRanks is the oracle: a string-keyed set, sorted with bytes.Compare.
func naiveRanks(sets map[string][][]byte) (map[string][]uint32, int, [32]byte) {
	all := map[string]bool{}
	for _, s := range sets {
		for _, e := range s {
			all[string(e)] = true
		}
	}
	union := make([][]byte, 0, len(all))
	for e := range all {
		union = append(union, []byte(e))
	}
	slices.SortFunc(union, bytes.Compare)
	pos := map[string]uint32{}
	h := sha256.New()
	h.Write([]byte(unionDomain))
	for i, e := range union {
		pos[string(e)] = uint32(i)
		h.Write(e)
	}
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(union))))
	ranks := map[string][]uint32{}
	for p, s := range sets {
		ranks[p] = make([]uint32, len(s))
		for i, e := range s {
			ranks[p][i] = pos[string(e)]
		}
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return ranks, len(union), sum
}

func TestRanksMatchesOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	shared := make([][]byte, 300)
	for i := range shared {
		shared[i] = randomElem(rng)
	}
	// Elements differing only in their last word, to exercise every comparison word.
	close1 := slices.Clone(shared[0])
	close1[31] ^= 1
	close2 := slices.Clone(shared[0])
	close2[16] ^= 1
	// Sets above smallSet take the bucket path of sortSet.
	large := make([][]byte, 3*smallSet)
	for i := range large {
		large[i] = randomElem(rng)
	}
	// A hostile set whose elements share their leading bytes lands in one bucket.
	prefixed := make([][]byte, smallSet+10)
	for i := range prefixed {
		prefixed[i] = randomElem(rng)
		copy(prefixed[i], "\x00\x00\x00\x07")
	}
	cases := []struct {
		name string
		sets map[string][][]byte
	}{
		{"large overlapping", map[string][][]byte{"a": large[:2*smallSet], "b": large[smallSet:], "c": large[smallSet/2 : smallSet+1]}},
		{"large common prefix", map[string][][]byte{"a": prefixed, "b": prefixed[5:], "c": large[:smallSet+1]}},
		{"no parties", map[string][][]byte{}},
		{"one empty party", map[string][][]byte{"a": nil}},
		{"one party", map[string][][]byte{"a": shared[:10]}},
		{"disjoint", map[string][][]byte{"a": shared[:100], "b": shared[100:200], "c": shared[200:]}},
		{"identical", map[string][][]byte{"a": shared, "b": shared, "c": shared}},
		{"overlapping", map[string][][]byte{"a": shared[:200], "b": shared[100:], "c": append(slices.Clone(shared[50:60]), randomElem(rng))}},
		{"near collisions", map[string][][]byte{"a": {shared[0], close1}, "b": {close2, shared[0]}, "c": {close1}}},
		{"five parties one empty", map[string][][]byte{"a": shared[:5], "b": shared[3:9], "c": nil, "d": shared[8:20], "e": shared[:1]}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Shuffle each party's order so order matters.
			for p, s := range tc.sets {
				s = slices.Clone(s)
				rng.Shuffle(len(s), func(a, b int) { s[a], s[b] = s[b], s[a] })
				tc.sets[p] = s
			}
			ranks, union, h, err := Ranks(tc.sets)
			if err != nil {
				t.Fatal(err)
			}
			wantRanks, wantUnion, wantHash := naiveRanks(tc.sets)
			if union != wantUnion || h != wantHash {
				t.Fatalf("union %d hash %x, want %d %x", union, h, wantUnion, wantHash)
			}
			if len(ranks) != len(tc.sets) {
				t.Fatalf("%d rank lists for %d parties", len(ranks), len(tc.sets))
			}
			for p := range tc.sets {
				if !slices.Equal(ranks[p], wantRanks[p]) {
					t.Fatalf("%s: ranks %v, want %v", p, ranks[p], wantRanks[p])
				}
				if ranks[p] == nil {
					t.Fatalf("%s: nil rank list", p)
				}
			}
		})
	}
}

func TestRanksRejects(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	a, b := randomElem(rng), randomElem(rng)
	largeWithDup := make([][]byte, smallSet+2)
	for i := range largeWithDup {
		largeWithDup[i] = randomElem(rng)
	}
	largeWithDup[smallSet+1] = largeWithDup[17]
	cases := []struct {
		name    string
		sets    map[string][][]byte
		mention string
	}{
		{"duplicate in one party", map[string][][]byte{"x": {a}, "bank": {a, b, a}}, `"bank" holds the same pseudonym at positions 0 and 2`},
		{"duplicate in a large set", map[string][][]byte{"bank": largeWithDup}, fmt.Sprintf(`"bank" holds the same pseudonym at positions 17 and %d`, smallSet+1)},
		{"short element", map[string][][]byte{"bank": {a, b[:31]}}, `pseudonym 1 of "bank" has 31 bytes`},
		{"long element", map[string][][]byte{"bank": {append(slices.Clone(a), 0)}}, `pseudonym 0 of "bank" has 33 bytes`},
		{"nil element", map[string][][]byte{"bank": {nil}}, `pseudonym 0 of "bank" has 0 bytes`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := Ranks(tc.sets)
			if !errors.Is(err, ErrBadSet) {
				t.Fatalf("err = %v, want ErrBadSet", err)
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("error %q does not say %q", err, tc.mention)
			}
		})
	}
}

func FuzzRanks(f *testing.F) {
	f.Add([]byte{}, uint8(1))
	f.Add(bytes.Repeat([]byte{1}, 96), uint8(3))
	f.Add(bytes.Repeat([]byte{1, 2, 3}, 70), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, parties uint8) {
		n := int(parties)%4 + 1
		sets := map[string][][]byte{}
		for i := 0; len(data) > 0; i++ {
			// The first byte of each chunk picks its length, often 32.
			l := ElementSize
			if data[0] < 16 {
				l = int(data[0])
			}
			data = data[1:]
			l = min(l, len(data))
			p := fmt.Sprint("p", i%n)
			sets[p] = append(sets[p], data[:l])
			data = data[l:]
		}
		ranks, union, h, err := Ranks(sets)
		if err != nil {
			if !errors.Is(err, ErrBadSet) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		wantRanks, wantUnion, wantHash := naiveRanks(sets)
		if union != wantUnion || h != wantHash {
			t.Fatalf("union %d, want %d", union, wantUnion)
		}
		for p := range sets {
			if !slices.Equal(ranks[p], wantRanks[p]) {
				t.Fatalf("%s: ranks differ from the oracle", p)
			}
		}
	})
}
