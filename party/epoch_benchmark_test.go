package party

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/mpcq/mpcq/internal/source"
	"github.com/mpcq/mpcq/mpc/align"
)

// BenchmarkEpoch measures, in one process, the work of a full alignment
// and of an incremental epoch in which one party of three adds 1% new
// people and removes 0.5%: the party's diff of its keys against the
// epoch's, the blinding of the added ids (its own, then each other
// party's, with provenance signatures), the coordinator's slot
// assignment in the lineage's union (its index built), the party's rank
// check and the durable write of its alignment (keys and ranks). gRPC
// transfer is left out (the incremental lists are 1% of the full ones).
//
//	go test ./party -run '^$' -bench BenchmarkEpoch -benchtime 1x
//
// MPCQ_EPOCH_PEOPLE sets the people per party (default 1,000,000 for the
// incremental epoch, a tenth of it for the full alignment: scale it by
// 10 to compare).
func BenchmarkEpoch(b *testing.B) {
	people := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("MPCQ_EPOCH_PEOPLE")); err == nil && v > 0 {
		people = v
	}
	parties := []string{"bank", "telecom", "utility"}
	ids := func(n, offset int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("person-%09d", i+offset)
		}
		return out
	}
	privs := map[string]ed25519.PrivateKey{}
	pubs := map[string]ed25519.PublicKey{}
	for _, p := range parties {
		pub, priv, _ := ed25519.GenerateKey(nil)
		privs[p], pubs[p] = priv, pub
	}
	keys := map[string]*align.Key{}
	for _, p := range parties {
		keys[p], _ = align.NewKey(nil)
	}
	ctx := context.Background()
	// pass blinds a list through every other party, as the coordinator
	// routes it, checking and signing each hop.
	pass := func(b *testing.B, origin string, elems [][]byte, chain align.Provenance) [][]byte {
		for _, p := range parties {
			if p == origin {
				continue
			}
			if err := align.Verify(chain, elems, pubs, parties); err != nil {
				b.Fatal(err)
			}
			out, err := align.Blind(ctx, keys[p], elems, 0)
			if err != nil {
				b.Fatal(err)
			}
			if err := align.Sign(&chain, p, privs[p], out); err != nil {
				b.Fatal(err)
			}
			elems = out
		}
		return elems
	}
	own := func(b *testing.B, origin, epoch string, list []string) ([][]byte, align.Provenance) {
		elems, err := align.BlindIDs(ctx, keys[origin], list, 0)
		if err != nil {
			b.Fatal(err)
		}
		chain := align.Provenance{Epoch: epoch, Origin: origin, Size: uint32(len(elems))}
		if err := align.Sign(&chain, origin, privs[origin], elems); err != nil {
			b.Fatal(err)
		}
		return elems, chain
	}

	b.Run(fmt.Sprintf("full/people=%d", people/10), func(b *testing.B) {
		n := people / 10
		for range b.N {
			sets := map[string][][]byte{}
			for i, p := range parties {
				elems, chain := own(b, p, "e-1", ids(n, i*n/5)) // 80% overlap between neighbours
				sets[p] = pass(b, p, elems, chain)
			}
			if _, _, _, err := align.Ranks(sets); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run(fmt.Sprintf("incremental/people=%d/added=1%%/removed=0.5%%", people), func(b *testing.B) {
		// The lineage so far: the bank's keys and slots, and a union
		// (the bank's pseudonyms and as many others) at the coordinator.
		oldIDs := ids(people, 0)
		oldRanks := make([]uint32, people)
		for i := range oldRanks {
			oldRanks[i] = uint32(2 * i)
		}
		unionSize := uint64(2 * people)
		union := make([][align.ElementSize]byte, unionSize)
		for i := range union {
			copy(union[i][:], fmt.Sprintf("pseudonym-%021d", i))
		}
		removed, added := people/200, people/100
		cur := append(append([]string{}, oldIDs[removed:]...), ids(added, 2*people)...)
		dir := b.TempDir()
		b.ResetTimer()
		for range b.N {
			old := source.NewKeys(oldIDs) // its index is built here
			curKeys := source.NewKeys(cur)
			d := diffKeys(old, oldRanks, curKeys)
			list := make([]string, len(d.added))
			for k, i := range d.added {
				list[k] = cur[i]
			}
			elems, chain := own(b, "bank", "e-2", list)
			elems = pass(b, "bank", elems, chain)
			index := make(map[[align.ElementSize]byte]uint32, len(union))
			for i, e := range union {
				index[e] = uint32(i)
			}
			lookup := func(k [align.ElementSize]byte) (uint32, bool) { s, ok := index[k]; return s, ok }
			ranks, _, size, hash, err := align.Extend(lookup, unionSize, [32]byte{}, map[string][][]byte{"bank": elems, "telecom": nil, "utility": nil})
			if err != nil {
				b.Fatal(err)
			}
			if err := align.CheckAddedRanks(ranks["bank"], d.keptRanks(), unionSize, size); err != nil {
				b.Fatal(err)
			}
			all := d.merge(ranks["bank"])
			st := epochState{ID: "e-2", Entities: size, UnionHash: hash[:], Rows: len(cur), Lineage: "e-1", Previous: "e-1"}
			if err := (store{dir}).saveAlignment(&st, all, cur, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
