package party

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

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

// saveAlignment stores the ranks, then the epoch that names their hash.
func (s store) saveAlignment(st epochState, ranks []uint32) error {
	b := ranksBytes(ranks)
	h := sha256.Sum256(b)
	st.RanksHash = h[:]
	if err := pki.WritePrivate(s.path(ranksFile), b); err != nil {
		return err
	}
	return s.writeJSON(epochFile, st)
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
