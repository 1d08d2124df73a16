package align

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
)

const unionDomain = "mpcq/align/union/v1\x00"

// ErrBadSet is wrapped by Ranks when a party's pseudonym set holds an element
// that is not 32 bytes, or holds the same pseudonym twice.
var ErrBadSet = errors.New("align: bad pseudonym set")

// entry is a pseudonym as four big-endian words (so that comparing words
// compares bytes) and its position in its party's list.
type entry struct {
	k   [4]uint64
	pos uint32
}

func compareEntries(a, b entry) int {
	if c := cmp.Compare(a.k[0], b.k[0]); c != 0 {
		return c
	}
	if c := cmp.Compare(a.k[1], b.k[1]); c != 0 {
		return c
	}
	if c := cmp.Compare(a.k[2], b.k[2]); c != 0 {
		return c
	}
	return cmp.Compare(a.k[3], b.k[3])
}

// Ranks merges the parties' pseudonym sets (party name → 32-byte pseudonyms
// in that party's order) into their bytewise-sorted union, with pseudonyms
// held by several parties merged. For every party it returns the rank (slot)
// of each of its pseudonyms in the union, in the party's order, the union's
// size, and unionHash = SHA-256("mpcq/align/union/v1" || 0x00 || the sorted
// union's elements || uint64 big-endian union size), the commitment that goes
// on the ledger. A set with an element that is not 32 bytes, or with a
// duplicate pseudonym, is refused with an error wrapping ErrBadSet.
func Ranks(sets map[string][][]byte) (ranks map[string][]uint32, union int, unionHash [32]byte, err error) {
	names := make([]string, 0, len(sets))
	total := 0
	for name, set := range sets {
		names = append(names, name)
		total += len(set)
	}
	slices.Sort(names)
	if uint64(total) > math.MaxUint32 {
		return nil, 0, unionHash, fmt.Errorf("%w: %d pseudonyms in all, more than ranks can number (%d)", ErrBadSet, total, uint32(math.MaxUint32))
	}

	// Sort the parties' sets concurrently, at most GOMAXPROCS at a time.
	sorted := make([][]entry, len(names))
	errs := make([]error, len(names))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for p, name := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			sorted[p], errs[p] = sortSet(name, sets[name])
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, 0, unionHash, err
		}
	}

	ranks = make(map[string][]uint32, len(names))
	out := make([][]uint32, len(names))
	for p, name := range names {
		out[p] = make([]uint32, len(sorted[p]))
		ranks[name] = out[p]
	}

	h := sha256.New()
	buf := make([]byte, 0, 8192)
	buf = append(buf, unionDomain...)
	heads := make([]int, len(names))
	rank := uint32(0)
	for {
		// Find the smallest head pseudonym among the parties.
		minP := -1
		for p := range sorted {
			if heads[p] < len(sorted[p]) && (minP < 0 || compareEntries(sorted[p][heads[p]], sorted[minP][heads[minP]]) < 0) {
				minP = p
			}
		}
		if minP < 0 {
			break
		}
		m := sorted[minP][heads[minP]]
		for p := range sorted {
			if heads[p] < len(sorted[p]) && sorted[p][heads[p]].k == m.k {
				out[p][sorted[p][heads[p]].pos] = rank
				heads[p]++
			}
		}
		rank++
		if len(buf)+ElementSize > cap(buf) {
			_, _ = h.Write(buf)
			buf = buf[:0]
		}
		for _, w := range m.k {
			buf = binary.BigEndian.AppendUint64(buf, w)
		}
	}
	buf = binary.BigEndian.AppendUint64(buf, uint64(rank))
	_, _ = h.Write(buf)
	h.Sum(unionHash[:0])
	return ranks, int(rank), unionHash, nil
}

// bucketBits is how many leading bits of a pseudonym pick its bucket in the
// counting pass of sortSet; smallSet is the size below which a plain
// comparison sort is used instead.
const (
	bucketBits = 16
	smallSet   = 1 << 12
)

// sortSet converts one party's pseudonyms to entries sorted by pseudonym and
// refuses malformed elements and duplicates. Pseudonyms are uniformly
// distributed, so it first distributes them into 2^16 buckets by their
// leading bytes (one counting pass, one placing pass) and then sorts each
// small bucket; adversarial inputs that share a prefix merely fall back to
// an O(n log n) sort of one large bucket.
func sortSet(name string, set [][]byte) ([]entry, error) {
	for i, e := range set {
		if len(e) != ElementSize {
			return nil, fmt.Errorf("%w: pseudonym %d of %q has %d bytes, want %d", ErrBadSet, i, name, len(e), ElementSize)
		}
	}
	es := make([]entry, len(set))
	toEntry := func(i int, e []byte) entry {
		return entry{
			k: [4]uint64{
				binary.BigEndian.Uint64(e[0:8]),
				binary.BigEndian.Uint64(e[8:16]),
				binary.BigEndian.Uint64(e[16:24]),
				binary.BigEndian.Uint64(e[24:32]),
			},
			pos: uint32(i),
		}
	}
	if len(set) < smallSet {
		for i, e := range set {
			es[i] = toEntry(i, e)
		}
		slices.SortFunc(es, compareEntries)
	} else {
		bucket := func(e []byte) int { return int(binary.BigEndian.Uint16(e)) >> (16 - bucketBits) }
		start := make([]int, 1<<bucketBits+1)
		for _, e := range set {
			start[bucket(e)+1]++
		}
		for b := 1; b < len(start); b++ {
			start[b] += start[b-1]
		}
		next := slices.Clone(start[:len(start)-1])
		for i, e := range set {
			b := bucket(e)
			es[next[b]] = toEntry(i, e)
			next[b]++
		}
		for b := range len(start) - 1 {
			if start[b+1]-start[b] > 1 {
				slices.SortFunc(es[start[b]:start[b+1]], compareEntries)
			}
		}
	}
	for i := 1; i < len(es); i++ {
		if es[i].k == es[i-1].k {
			a, b := min(es[i-1].pos, es[i].pos), max(es[i-1].pos, es[i].pos)
			return nil, fmt.Errorf("%w: %q holds the same pseudonym at positions %d and %d; its id list has a duplicate person id",
				ErrBadSet, name, a, b)
		}
	}
	return es, nil
}
