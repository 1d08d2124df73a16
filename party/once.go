package party

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"sync"
)

// ErrRepeat is wrapped when a decryption share is asked for twice: each
// committed query's packed totals are decrypted once.
var ErrRepeat = errors.New("decryption already given")

const decryptLogFile = "decrypted.log"

// decryptLog remembers, durably, which packed ciphertexts (one per query
// at logN 14) of which query this party has given decryption shares for,
// so that one ledger entry cannot buy more than one decryption of each.
type decryptLog struct {
	mu   sync.Mutex
	path string
	done map[string]map[uint32]bool
}

func openDecryptLog(path string) (*decryptLog, error) {
	d := &decryptLog{path: path, done: map[string]map[uint32]bool{}}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return d, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		var id string
		var lo, n uint32
		if _, err := fmt.Sscanf(sc.Text(), "%s %d %d", &id, &lo, &n); err != nil {
			// A torn last line (crash mid-append) claimed nothing usable;
			// anything else is corruption.
			continue
		}
		d.mark(id, lo, n)
	}
	return d, sc.Err()
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
