package align

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

const extendDomain = "mpcq/align/extend/v1\x00"

// Extend assigns slots to the pseudonyms of an incremental epoch. The
// lineage's union so far has size slots and commitment prevHash; lookup
// returns the slot of a pseudonym already in it. sets maps every party to
// the fully blinded pseudonyms of the people it added, in its order.
//
// A pseudonym already in the union keeps its slot (the person is known at
// another party, or was removed and came back). The distinct pseudonyms
// that are not are sorted bytewise and numbered from size on, so that the
// slot order of new people reveals nothing about which party added them.
// Extend returns each party's ranks (in its order), the new pseudonyms
// in slot order, the new union size, and the chained commitment
//
//	SHA-256("mpcq/align/extend/v1" || 0x00 || prevHash || uint64 size ||
//	        the new pseudonyms in slot order || uint64 new size)
//
// (integers big-endian), which goes on the ledger as the epoch's union
// hash. A set with an element that is not 32 bytes, or with the same
// pseudonym twice, is refused with an error wrapping ErrBadSet.
func Extend(lookup func([ElementSize]byte) (uint32, bool), size uint64, prevHash [32]byte, sets map[string][][]byte) (ranks map[string][]uint32, added [][ElementSize]byte, newSize uint64, hash [32]byte, err error) {
	names := make([]string, 0, len(sets))
	for name := range sets {
		names = append(names, name)
	}
	slices.Sort(names)
	fresh := map[[ElementSize]byte]uint32{}
	for _, name := range names {
		seen := make(map[[ElementSize]byte]int, len(sets[name]))
		for i, e := range sets[name] {
			if len(e) != ElementSize {
				return nil, nil, 0, hash, fmt.Errorf("%w: added pseudonym %d of %q has %d bytes, want %d", ErrBadSet, i, name, len(e), ElementSize)
			}
			k := [ElementSize]byte(e)
			if j, dup := seen[k]; dup {
				return nil, nil, 0, hash, fmt.Errorf("%w: %q added the same pseudonym at positions %d and %d; its id list has a duplicate person id", ErrBadSet, name, j, i)
			}
			seen[k] = i
			if _, ok := lookup(k); !ok {
				fresh[k] = 0
			}
		}
	}
	if size+uint64(len(fresh)) > math.MaxUint32 {
		return nil, nil, 0, hash, fmt.Errorf("%w: %d slots and %d new, more than ranks can number", ErrBadSet, size, len(fresh))
	}
	added = make([][ElementSize]byte, 0, len(fresh))
	for k := range fresh {
		added = append(added, k)
	}
	slices.SortFunc(added, func(a, b [ElementSize]byte) int { return bytes.Compare(a[:], b[:]) })
	for i, k := range added {
		fresh[k] = uint32(size) + uint32(i)
	}
	newSize = size + uint64(len(added))
	ranks = make(map[string][]uint32, len(names))
	for _, name := range names {
		r := make([]uint32, len(sets[name]))
		for i, e := range sets[name] {
			k := [ElementSize]byte(e)
			if s, ok := lookup(k); ok {
				r[i] = s
			} else {
				r[i] = fresh[k]
			}
		}
		ranks[name] = r
	}
	return ranks, added, newSize, ExtendHash(prevHash, size, added), nil
}

// ExtendHash is Extend's chained commitment of the pseudonyms added to a
// union of size slots committed by prevHash.
func ExtendHash(prevHash [32]byte, size uint64, added [][ElementSize]byte) [32]byte {
	h := sha256.New()
	buf := make([]byte, 0, 8192)
	buf = append(buf, extendDomain...)
	buf = append(buf, prevHash[:]...)
	buf = binary.BigEndian.AppendUint64(buf, size)
	for _, k := range added {
		if len(buf)+ElementSize > cap(buf) {
			_, _ = h.Write(buf)
			buf = buf[:0]
		}
		buf = append(buf, k[:]...)
	}
	buf = binary.BigEndian.AppendUint64(buf, size+uint64(len(added)))
	_, _ = h.Write(buf)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// CheckAddedRanks is a party's check of the slots an incremental epoch
// gives the people it added: every rank is below the new union size,
// distinct, and not one of the slots the party keeps (kept, any order),
// and the union did not shrink. It allocates by the number of ranks, never
// by the (untrusted) union size.
func CheckAddedRanks(added, kept []uint32, prevEntities, entities uint64) error {
	if entities < prevEntities {
		return fmt.Errorf("union size %d is below the previous epoch's %d", entities, prevEntities)
	}
	if entities > math.MaxUint32+1 || entities < uint64(len(added))+uint64(len(kept)) {
		return fmt.Errorf("union size %d is impossible for %d kept and %d added rows", entities, len(kept), len(added))
	}
	a := slices.Clone(added)
	slices.Sort(a)
	k := slices.Clone(kept)
	slices.Sort(k)
	for i, r := range a {
		if uint64(r) >= entities {
			return fmt.Errorf("added row's slot %d is not below the union size %d", r, entities)
		}
		if i > 0 && a[i-1] == r {
			return fmt.Errorf("slot %d is given to two added rows", r)
		}
		if _, found := slices.BinarySearch(k, r); found {
			return fmt.Errorf("slot %d given to an added row is a slot this party keeps", r)
		}
	}
	return nil
}
