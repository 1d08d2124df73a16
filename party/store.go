package party

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/mpcq/mpcq/mpc/align"
	"github.com/mpcq/mpcq/pki"
)

// Files in the data directory. Everything is written atomically (temp
// file, fsync, rename) with 0600 permissions.
const (
	ceremonyFile  = "ceremony.json"
	secretKeyFile = "secret.key"
	publicKeyFile = "collective.pk"
	// rotationKeysFile holds the collective rotation keys, raw (package
	// mpc), one after the other in the order of mpc.GaloisElements.
	rotationKeysFile = "rotation.keys"
	epochFile        = "epoch.json"
	ranksFile        = "ranks.bin"
	// idsFile holds the person keys the epoch aligned, in row order
	// (each a uint32 big-endian length then the bytes): what the next
	// incremental epoch diffs the source's keys against. They are the
	// party's own data, like its CSV; nothing of it leaves the party.
	idsFile = "aligned.ids"
	// lineageKeyFile holds the blinding key of the epoch's lineage
	// (align.Key.Encode): incremental epochs blind the added keys with
	// it. A full alignment (compaction) replaces it.
	lineageKeyFile = "lineage.key"
)

type ceremonyState struct {
	ID       string `json:"id"`
	ParamSet string `json:"param_set"`
	PKHash   []byte `json:"public_key_hash"`
}

type epochState struct {
	ID        string `json:"id"`
	Entities  uint64 `json:"entities"`
	UnionHash []byte `json:"union_hash"`
	Rows      int    `json:"rows"`
	// RanksHash binds ranks.bin to this epoch: the ranks are written
	// first, then this file, so a crash between leaves a mismatch that
	// loading detects.
	RanksHash []byte `json:"ranks_hash"`
	// KeysHash is source.Keys.Hash of the keys aligned: a restarted
	// party whose source (a database) holds other keys waits for a new
	// epoch. Absent in state written before it existed.
	KeysHash []byte `json:"keys_hash,omitempty"`
	// IDsHash is the SHA-256 of aligned.ids, written before this file.
	IDsHash []byte `json:"ids_hash,omitempty"`
	// Lineage is the full alignment's epoch that started the lineage
	// this epoch belongs to (the epoch itself for a full alignment);
	// Previous is the epoch an incremental epoch extended.
	Lineage  string `json:"lineage,omitempty"`
	Previous string `json:"previous,omitempty"`
	// LineageKeyHash is lineageKeyHash of lineage.key, so that a key
	// written by an alignment that did not finish is never used.
	LineageKeyHash []byte `json:"lineage_key_hash,omitempty"`
}

// lineageKeyHash is a domain-separated SHA-256 of an encoded lineage key.
func lineageKeyHash(kb []byte) []byte {
	h := sha256.New()
	h.Write([]byte("mpcq/party/lineage-key/v1\x00"))
	h.Write(kb)
	return h.Sum(nil)
}

type store struct{ dir string }

func (s store) path(name string) string { return filepath.Join(s.dir, name) }

func (s store) writeJSON(name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return pki.WritePrivate(s.path(name), b)
}

func (s store) readJSON(name string, v any) (bool, error) {
	b, err := os.ReadFile(s.path(name))
	if os.IsNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("%s: %w", s.path(name), err)
	}
	return true, nil
}

func (s store) readRanks() ([]uint32, error) {
	b, err := os.ReadFile(s.path(ranksFile))
	if err != nil {
		return nil, err
	}
	if len(b)%4 != 0 {
		return nil, fmt.Errorf("%s: %d bytes is not a whole number of ranks", s.path(ranksFile), len(b))
	}
	out := make([]uint32, len(b)/4)
	for i := range out {
		out[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return out, nil
}

func ranksBytes(ranks []uint32) []byte {
	b := make([]byte, 4*len(ranks))
	for i, r := range ranks {
		binary.LittleEndian.PutUint32(b[4*i:], r)
	}
	return b
}

// saveAlignment stores the lineage key (when key is not nil: a full
// alignment), the aligned keys and ranks, then the epoch that names their
// hashes, which it sets in st.
func (s store) saveAlignment(st *epochState, ranks []uint32, ids []string, key *align.Key) error {
	if key != nil {
		kb, err := key.Encode()
		if err != nil {
			return err
		}
		st.LineageKeyHash = lineageKeyHash(kb)
		err = pki.WritePrivate(s.path(lineageKeyFile), kb)
		clear(kb)
		if err != nil {
			return err
		}
	}
	ib := idsBytes(ids)
	ih := sha256.Sum256(ib)
	st.IDsHash = ih[:]
	if err := pki.WritePrivate(s.path(idsFile), ib); err != nil {
		return err
	}
	b := ranksBytes(ranks)
	h := sha256.Sum256(b)
	st.RanksHash = h[:]
	if err := pki.WritePrivate(s.path(ranksFile), b); err != nil {
		return err
	}
	return s.writeJSON(epochFile, st)
}

func idsBytes(ids []string) []byte {
	n := 0
	for _, id := range ids {
		n += 4 + len(id)
	}
	b := make([]byte, 0, n)
	for _, id := range ids {
		b = binary.BigEndian.AppendUint32(b, uint32(len(id)))
		b = append(b, id...)
	}
	return b
}

// readIDs reads aligned.ids when its hash is want; nil, nil when the
// state predates the file.
func (s store) readIDs(want []byte) ([]string, error) {
	if want == nil {
		return nil, nil
	}
	b, err := os.ReadFile(s.path(idsFile))
	if err != nil {
		return nil, err
	}
	if h := sha256.Sum256(b); !bytes.Equal(h[:], want) {
		return nil, fmt.Errorf("%s does not match %s (interrupted write?)", idsFile, epochFile)
	}
	var ids []string
	for len(b) > 0 {
		if len(b) < 4 || uint64(binary.BigEndian.Uint32(b)) > uint64(len(b)-4) {
			return nil, fmt.Errorf("%s: truncated after %d keys", s.path(idsFile), len(ids))
		}
		n := binary.BigEndian.Uint32(b)
		ids = append(ids, string(b[4:4+n]))
		b = b[4+n:]
	}
	return ids, nil
}

// readLineageKey reads the lineage's blinding key when its hash is want;
// nil when there is none or it is another lineage's.
func (s store) readLineageKey(want []byte) (*align.Key, error) {
	b, err := pki.ReadPrivate(s.path(lineageKeyFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer clear(b)
	if !bytes.Equal(lineageKeyHash(b), want) {
		return nil, nil
	}
	k, err := align.DecodeKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.path(lineageKeyFile), err)
	}
	return k, nil
}

// loadAlignment reads the epoch and its ranks, checking they belong together.
func (s store) loadAlignment() (epochState, []uint32, bool, error) {
	var st epochState
	ok, err := s.readJSON(epochFile, &st)
	if err != nil || !ok {
		return st, nil, ok, err
	}
	ranks, err := s.readRanks()
	if err != nil {
		return st, nil, false, err
	}
	h := sha256.Sum256(ranksBytes(ranks))
	if !bytes.Equal(h[:], st.RanksHash) {
		return st, nil, false, fmt.Errorf("%s does not match %s (interrupted write?)", ranksFile, epochFile)
	}
	return st, ranks, true, nil
}
