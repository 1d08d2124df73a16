package mpc

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"
)

// EncPool is a bounded pool of fresh encryptions of zero under one
// collective public key: the offline half of the first party's encryption.
// A public-key encryption of m is (u·pk0 + e0, u·pk1 + e1)/P plus the
// encoded m on c0; everything but the last addition (sampling u, e0, e1,
// the NTTs, the products with the key, the division by P) does not depend
// on m, so it is computed here while the party is idle and the online step
// (Worker.EncryptBlockPooled) is an encode and an add.
//
// Security: an entry is exactly the ciphertext a fresh encryption would
// have added the plaintext to, drawn from the same distribution by the
// same lattigo code (Encryptor.EncryptZero, which Encrypt itself calls).
// Encrypting m with it is therefore identically distributed to a fresh
// encryption of m, provided its randomness u, e0, e1 stays secret and is
// used once. Both hold by construction: the randomness is never stored (only
// the resulting ciphertext, in this process's memory: never on disk, never
// logged), and Take removes an entry from the pool before returning it, so
// no entry is handed out twice, across blocks or across queries. Reusing
// one would be fatal: two ciphertexts with the same zero differ by the
// difference of their plaintexts in the clear. When the pool is empty the
// caller encrypts afresh; it never waits for or recycles an entry.
//
// Entries are at the top chain level (FreshLevel(MaxChain)) and are cut
// down to the level a chain needs when taken: the residues of a ciphertext
// modulo the first primes of its modulus are an encryption of zero at that
// level with the same noise, just as lattigo's fresh encryption at that
// level would give (it samples at the level of its output).
//
// An EncPool is safe for concurrent use: Take from any goroutine, Fill
// from one (or a few) background goroutines, Pause from a query step.
type EncPool struct {
	params *Params
	pk     *rlwe.PublicKey
	enc    *rlwe.Encryptor // the filler's; guarded by fillMu
	level  int
	size   int
	meta   rlwe.MetaData // an encoded plaintext's at level: what Encrypt copies onto its output

	fillMu sync.Mutex // one encryptor: fillers take turns on it

	mu     sync.Mutex
	items  []*rlwe.Ciphertext
	paused int           // running query steps; filling waits while > 0
	wake   chan struct{} // a Take or a resume: the filler may have work
}

// ErrPoolKey is returned when a worker is asked to encrypt with a pool
// built for another public key (the result would not decrypt).
var ErrPoolKey = errors.New("encryption pool is for another public key")

// NewEncPool returns an empty pool of at most size encryptions of zero
// under pk. Nothing is computed until Fill runs.
func (p *Params) NewEncPool(pk *rlwe.PublicKey, size int) (*EncPool, error) {
	if pk == nil {
		return nil, fmt.Errorf("encryption pool: no public key")
	}
	if size < 1 {
		return nil, fmt.Errorf("encryption pool of %d entries: need at least 1", size)
	}
	level, err := p.FreshLevel(MaxChain)
	if err != nil {
		return nil, err
	}
	return &EncPool{
		params: p, pk: pk, enc: bgv.NewEncryptor(p.BGV, pk), level: level, size: size,
		meta:  *bgv.NewPlaintext(p.BGV, level).MetaData,
		items: make([]*rlwe.Ciphertext, 0, size), wake: make(chan struct{}, 1),
	}, nil
}

// Size is the pool's bound.
func (ep *EncPool) Size() int { return ep.size }

// Len is the number of entries ready now.
func (ep *EncPool) Len() int {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return len(ep.items)
}

// CiphertextBytes is the memory one entry holds (two polynomials at the
// top chain level).
func (ep *EncPool) CiphertextBytes() int {
	return 2 * (ep.level + 1) * ep.params.BGV.N() * 8
}

// Take removes one entry from the pool and returns it at the given level,
// or nil when the pool is empty. The entry is no longer in the pool when
// it is returned: no other Take can ever return it.
func (ep *EncPool) Take(level int) (*rlwe.Ciphertext, error) {
	if level < 0 || level > ep.level {
		return nil, fmt.Errorf("encryption pool: level %d, entries are at level %d", level, ep.level)
	}
	ep.mu.Lock()
	n := len(ep.items)
	if n == 0 {
		ep.mu.Unlock()
		return nil, nil
	}
	ct := ep.items[n-1]
	ep.items[n-1] = nil
	ep.items = ep.items[:n-1]
	ep.mu.Unlock()
	ep.signal()
	if level < ct.Level() {
		ct.Resize(ct.Degree(), level)
	}
	return ct, nil
}

// Pause stops filling until the returned function is called (a query step
// runs: on a small machine the filler would take a core from it). Pauses
// nest; the entry being computed when Pause is called is finished.
func (ep *EncPool) Pause() (resume func()) {
	ep.mu.Lock()
	ep.paused++
	ep.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			ep.mu.Lock()
			ep.paused--
			ep.mu.Unlock()
			ep.signal()
		})
	}
}

func (ep *EncPool) signal() {
	select {
	case ep.wake <- struct{}{}:
	default:
	}
}

// needs reports whether the pool is below its bound and not paused.
func (ep *EncPool) needs() bool {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return ep.paused == 0 && len(ep.items) < ep.size
}

// Fill computes entries until the pool is full, then waits for takes and
// fills again, until ctx is done (it returns ctx's error). It never holds
// more than Size entries. Run it in one background goroutine: it uses one
// core while it computes and none while the pool is full or paused. On
// Linux it runs on its own thread at the lowest priority (nice 19), so
// that the other processes of a shared machine (the other parties of a
// demo, a database) go first.
func (ep *EncPool) Fill(ctx context.Context) error {
	lowerPriority()
	for {
		for !ep.needs() {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-ep.wake:
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := ep.addFresh(); err != nil {
			return err
		}
	}
}

// FillN adds up to n entries now (bounded by Size), in the caller's
// goroutine: for tests and benchmarks that need a full pool at once.
func (ep *EncPool) FillN(ctx context.Context, n int) error {
	for range n {
		if err := ctx.Err(); err != nil {
			return err
		}
		if ep.Len() >= ep.size {
			return nil
		}
		if err := ep.addFresh(); err != nil {
			return err
		}
	}
	return nil
}

// addFresh computes one encryption of zero and adds it if the pool still
// has room (a Take may have made room, or another fill filled it).
func (ep *EncPool) addFresh() error {
	ct, err := ep.fresh()
	if err != nil {
		return err
	}
	ep.mu.Lock()
	if len(ep.items) < ep.size {
		ep.items = append(ep.items, ct)
	}
	ep.mu.Unlock()
	return nil
}

// fresh computes one encryption of zero with the metadata Encrypt would
// give a ciphertext of an encoded plaintext at the pool's level.
func (ep *EncPool) fresh() (*rlwe.Ciphertext, error) {
	ct := bgv.NewCiphertext(ep.params.BGV, 1, ep.level)
	*ct.MetaData = ep.meta
	ep.fillMu.Lock()
	err := ep.enc.EncryptZero(ct)
	ep.fillMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("encryption pool: %w", err)
	}
	return ct, nil
}

// EncryptBlockPooled is EncryptBlock with the encryption of zero taken
// from pool (the online step: encode and add). hit is false when pool is
// nil or empty, and the block was then encrypted afresh. A pool built for
// another public key than the worker's is refused (ErrPoolKey).
func (w *Worker) EncryptBlockPooled(pool *EncPool, values []uint64, chainLen int) (ct *rlwe.Ciphertext, hit bool, err error) {
	level, err := w.p.FreshLevel(chainLen)
	if err != nil {
		return nil, false, err
	}
	pt, err := w.Encode(values, level, nil)
	if err != nil {
		return nil, false, err
	}
	return w.EncryptPooled(pool, pt)
}

// EncryptPooled encrypts an encoded block (Encode at the chain's fresh
// level) under the collective key: pt plus an encryption of zero from
// pool, or, when pool is nil or empty, a fresh encryption (hit false).
// pt is only read: a party encodes a vector's block once and encrypts it
// once per output that uses it, each with its own encryption of zero.
func (w *Worker) EncryptPooled(pool *EncPool, pt *rlwe.Plaintext) (ct *rlwe.Ciphertext, hit bool, err error) {
	if w.enc == nil {
		return nil, false, fmt.Errorf("worker has no public key to encrypt with")
	}
	if pool != nil && pool.pk != w.pk {
		return nil, false, ErrPoolKey
	}
	level := pt.Level()
	var zero *rlwe.Ciphertext
	if pool != nil {
		if zero, err = pool.Take(level); err != nil {
			return nil, false, err
		}
	}
	if zero == nil {
		ct := bgv.NewCiphertext(w.p.BGV, 1, level)
		if err := w.enc.Encrypt(pt, ct); err != nil {
			return nil, false, fmt.Errorf("encrypting block: %w", err)
		}
		return ct, false, nil
	}
	if !zero.IsNTT || !pt.IsNTT || zero.IsMontgomery || pt.IsMontgomery {
		return nil, false, fmt.Errorf("encryption pool: entry (NTT %v, Montgomery %v) and plaintext (NTT %v, Montgomery %v) in different domains",
			zero.IsNTT, zero.IsMontgomery, pt.IsNTT, pt.IsMontgomery)
	}
	// What rlwe.Encryptor.Encrypt does after EncryptZero: the output takes
	// the plaintext's metadata and c0 += pt, both in the NTT domain.
	*zero.MetaData = *pt.MetaData
	w.p.BGV.RingQ().AtLevel(level).Add(zero.Value[0], pt.Value, zero.Value[0])
	return zero, true, nil
}
