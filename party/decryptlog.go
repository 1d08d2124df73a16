package party

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
)

// ErrRepeat is wrapped when a decryption share is asked for twice: each
// committed query's packed totals are decrypted once.
var ErrRepeat = errors.New("decryption already given")

// ErrCorruptLog is wrapped when a line of the decryption log, other than a
// torn last line, is not one that claim writes.
var ErrCorruptLog = errors.New("decryption log corrupt")

const decryptLogFile = "decrypted.log"

// decryptLog remembers, durably, which packed ciphertexts (one per query
// at logN 14) of which query this party has given decryption shares for,
// so that one ledger entry cannot buy more than one decryption of each.
type decryptLog struct {
	mu   sync.Mutex
	path string
	done map[string]map[uint32]bool
}

// openDecryptLog reads the log at path (a missing file is an empty log).
// Every complete line must be "<query id> <first> <count>"; a malformed
// one is corruption and an error naming the file and line. Only a torn
// last line (no trailing newline: a crash mid-append, before claim
// returned, so no share was given for it) is dropped, and cut from the
// file so that the next claim starts on a line of its own.
func openDecryptLog(path string) (*decryptLog, error) {
	d := &decryptLog{path: path, done: map[string]map[uint32]bool{}}
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return d, nil
	}
	if err != nil {
		return nil, err
	}
	complete := bytes.LastIndexByte(b, '\n') + 1
	var lines []string
	if complete > 0 {
		lines = strings.Split(string(b[:complete-1]), "\n")
	}
	for i, line := range lines {
		id, lo, n, err := parseClaim(line)
		if err != nil {
			return nil, fmt.Errorf("%w: %s line %d: %w", ErrCorruptLog, path, i+1, err)
		}
		d.mark(id, lo, n)
	}
	if complete < len(b) {
		if err := truncate(path, int64(complete)); err != nil {
			return nil, fmt.Errorf("dropping the torn last line of %s: %w", path, err)
		}
	}
	return d, nil
}

// parseClaim parses one line of the log, as claim writes it.
func parseClaim(line string) (id string, lo, n uint32, err error) {
	f := strings.Split(line, " ")
	if len(f) != 3 || f[0] == "" {
		return "", 0, 0, fmt.Errorf("%q is not \"<query id> <first> <count>\"", line)
	}
	l, err := strconv.ParseUint(f[1], 10, 32)
	if err != nil {
		return "", 0, 0, fmt.Errorf("first ciphertext: %w", err)
	}
	c, err := strconv.ParseUint(f[2], 10, 32)
	if err != nil {
		return "", 0, 0, fmt.Errorf("count: %w", err)
	}
	if l+c > math.MaxUint32 {
		return "", 0, 0, fmt.Errorf("ciphertexts %d..%d overflow", l, l+c-1)
	}
	return f[0], uint32(l), uint32(c), nil
}

// truncate cuts the file at path to size bytes, durably.
func truncate(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (d *decryptLog) mark(id string, lo, n uint32) {
	m := d.done[id]
	if m == nil {
		m = map[uint32]bool{}
		d.done[id] = m
	}
	for i := lo; i < lo+n; i++ {
		m[i] = true
	}
}

// claim records packed ciphertexts lo..lo+n-1 of a query as decrypted, durably,
// or refuses if any already was.
func (d *decryptLog) claim(id string, lo, n uint32) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := lo; i < lo+n; i++ {
		if d.done[id][i] {
			return fmt.Errorf("%w: query %s packed ciphertext %d was already decrypted", ErrRepeat, id, i)
		}
	}
	f, err := os.OpenFile(d.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(f, "%s %d %d\n", id, lo, n); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	d.mark(id, lo, n)
	return nil
}
