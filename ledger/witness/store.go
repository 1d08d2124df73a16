package witness

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"

	"github.com/mpcq/mpcq/internal/atomicfile"
)

// stateFileVersion is the version field written by FileStore.
const stateFileVersion = 1

// maxStateFile bounds the state file FileStore reads.
const maxStateFile = 1 << 20

// FileStore keeps a witness's State in one JSON file, replaced atomically:
// write a temporary file in the same directory, fsync it, rename it over
// the state file, fsync the directory.
type FileStore struct {
	path string
}

// NewFileStore returns a store at path. The directory must exist.
func NewFileStore(path string) *FileStore { return &FileStore{path: path} }

type stateFile struct {
	Version    int    `json:"version"`
	Size       uint64 `json:"size"`
	Root       []byte `json:"root"`
	Checkpoint string `json:"checkpoint"`
}

// Load reads the state; a missing file is the zero State (a new witness).
func (s *FileStore) Load() (State, error) {
	f, err := os.Open(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, nil
	}
	if err != nil {
		return State{}, fmt.Errorf("reading witness state: %w", err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxStateFile+1))
	if err != nil {
		return State{}, fmt.Errorf("reading witness state %s: %w", s.path, err)
	}
	if len(raw) > maxStateFile {
		return State{}, fmt.Errorf("witness state %s is larger than %d bytes", s.path, maxStateFile)
	}
	st, err := decodeState(raw)
	if err != nil {
		return State{}, fmt.Errorf("witness state %s: %w", s.path, err)
	}
	return st, nil
}

func decodeState(raw []byte) (State, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var sf stateFile
	if err := dec.Decode(&sf); err != nil {
		return State{}, fmt.Errorf("not a witness state file: %w", err)
	}
	if dec.More() {
		return State{}, errors.New("trailing data after the state object")
	}
	if sf.Version != stateFileVersion {
		return State{}, fmt.Errorf("state file version %d, this build reads version %d", sf.Version, stateFileVersion)
	}
	st := State{Size: sf.Size, Root: sf.Root}
	if sf.Checkpoint != "" {
		st.Checkpoint = []byte(sf.Checkpoint)
	}
	return st, nil
}

// Save replaces the state file atomically and durably.
func (s *FileStore) Save(st State) error {
	raw, err := json.Marshal(stateFile{Version: stateFileVersion, Size: st.Size, Root: st.Root, Checkpoint: string(st.Checkpoint)})
	if err != nil {
		return fmt.Errorf("encoding witness state: %w", err)
	}
	return atomicfile.Write(s.path, raw, 0o600)
}

// MemoryStore keeps State in memory, for tests and for callers that
// persist it themselves. Its zero value is ready to use.
type MemoryStore struct {
	mu sync.Mutex
	st State
}

// Load implements Store.
func (m *MemoryStore) Load() (State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return cloneState(m.st), nil
}

// Save implements Store.
func (m *MemoryStore) Save(st State) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.st = cloneState(st)
	return nil
}

func cloneState(st State) State {
	return State{Size: st.Size, Root: bytes.Clone(st.Root), Checkpoint: bytes.Clone(st.Checkpoint)}
}
