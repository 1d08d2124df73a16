package party

import (
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
	epochFile     = "epoch.json"
	ranksFile     = "ranks.bin"
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

func (s store) writeRanks(ranks []uint32) error {
	b := make([]byte, 4*len(ranks))
	for i, r := range ranks {
		binary.LittleEndian.PutUint32(b[4*i:], r)
	}
	return pki.WritePrivate(s.path(ranksFile), b)
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
