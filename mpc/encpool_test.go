package mpc

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"
)

// filledPool returns a pool of size entries under c's key, n of them
// computed now.
func filledPool(t testing.TB, c *consortium, size, n int) *EncPool {
	t.Helper()
	ep, err := c.p.NewEncPool(c.pk, size)
	if err != nil {
		t.Fatal(err)
	}
	if err := ep.FillN(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	return ep
}

// decryptSlots decrypts ct with the consortium's ideal key (the sum of the
// shares) and decodes its slots.
func (c *consortium) decryptSlots(t testing.TB, ct *rlwe.Ciphertext) []uint64 {
	t.Helper()
	out := make([]uint64, c.p.Slots())
	if err := bgv.NewEncoder(c.p.BGV).Decode(bgv.NewDecryptor(c.p.BGV, c.ideal).DecryptNew(ct), out); err != nil {
		t.Fatal(err)
	}
	return out
}

// chainTotal continues a first party's block ct through the rest of the
// chain (vectors[1:]), packs its slot total and decrypts it through the
// collective decryption protocol to the analyst.
func (c *consortium) chainTotal(t testing.TB, w *Worker, ct *rlwe.Ciphertext, vectors [][]uint64) uint64 {
	t.Helper()
	// The block crosses the wire first, as it does between parties.
	b, err := c.p.MarshalCiphertext(ct)
	if err != nil {
		t.Fatal(err)
	}
	if ct, err = c.p.UnmarshalCiphertext(b, ct.Level(), ct.Scale); err != nil {
		t.Fatal(err)
	}
	for _, v := range vectors[1:] {
		pt, err := w.Encode(v, ct.Level(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if ct, err = w.MulBlock(ct, pt); err != nil {
			t.Fatal(err)
		}
	}
	total, err := w.Pack([]*rlwe.Ciphertext{ct})
	if err != nil {
		t.Fatal(err)
	}
	return c.decryptForAnalyst(t, total)
}

// TestEncPoolExact: a block encrypted with a pooled encryption of zero
// decrypts slot by slot to its values, with the noise of a fresh
// encryption, and carries through every chain length to the same total,
// by the collective decryption, as EncryptBlock's.
func TestEncPoolExact(t *testing.T) {
	p := mustParams(t, testSet)
	c := newConsortium(t, p, "bank", "telecom", "utility")
	rng := mrand.New(mrand.NewPCG(3, 4))
	w := p.NewWorker(c.pk, c.evk)
	ep := filledPool(t, c, 2*MaxChain, 2*MaxChain)
	entities := p.Slots() - 5 // a partial block: the last slots are zero
	for k := 1; k <= MaxChain; k++ {
		t.Run(fmt.Sprintf("chain%d", k), func(t *testing.T) {
			vecs := make([][]uint64, k)
			for i := range vecs {
				vecs[i] = make([]uint64, entities)
				for j := range vecs[i] {
					vecs[i][j] = uint64(rng.IntN(2))
				}
			}
			for j := range vecs[0] { // the first party's values are large
				vecs[0][j] *= uint64(rng.IntN(20_000_001))
			}
			var want uint64
			for j := range entities {
				v := uint64(1)
				for i := range vecs {
					v *= vecs[i][j]
				}
				want += v
			}
			pooled, hit, err := w.EncryptBlockPooled(ep, vecs[0], k)
			if err != nil || !hit {
				t.Fatalf("pooled encryption: hit %v, %v", hit, err)
			}
			fresh, err := w.EncryptBlock(vecs[0], k)
			if err != nil {
				t.Fatal(err)
			}
			if pooled.Level() != fresh.Level() || pooled.Scale.Cmp(fresh.Scale) != 0 || pooled.IsNTT != fresh.IsNTT {
				t.Fatalf("pooled block at level %d scale %v NTT %v, fresh at %d %v %v",
					pooled.Level(), pooled.Scale.Uint64(), pooled.IsNTT, fresh.Level(), fresh.Scale.Uint64(), fresh.IsNTT)
			}
			got := c.decryptSlots(t, pooled)
			for j := range got {
				wantj := uint64(0)
				if j < entities {
					wantj = vecs[0][j]
				}
				if got[j] != wantj {
					t.Fatalf("slot %d decrypts to %d, want %d", j, got[j], wantj)
				}
			}
			if np, nf := c.noiseLog2(t, pooled), c.noiseLog2(t, fresh); np > nf+1 {
				t.Fatalf("pooled block's noise 2^%.1f, a fresh encryption's 2^%.1f", np, nf)
			}
			if gp, gf := c.chainTotal(t, w, pooled, vecs), c.chainTotal(t, w, fresh, vecs); gp != want || gf != want {
				t.Fatalf("chain of %d: total %d via the pool, %d via EncryptBlock, plaintext %d", k, gp, gf, want)
			}
		})
	}
}

// ctHash identifies a ciphertext by its bytes (c0 and c1).
func ctHash(t testing.TB, p *Params, ct *rlwe.Ciphertext) [32]byte {
	t.Helper()
	b, err := p.MarshalCiphertext(ct)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// c1Hash identifies the encryption of zero under a block: c1 is
// u·pk1 + e1, which the plaintext does not touch, so two blocks with the
// same c1 would share their randomness (their c0 difference would be the
// difference of their plaintexts in the clear). It is what an observer of
// the chain would compare to catch a reused entry.
func c1Hash(ct *rlwe.Ciphertext) [32]byte {
	h := sha256.New()
	for _, row := range ct.Value[1].Coeffs {
		for _, x := range row {
			var b [8]byte
			for i := range b {
				b[i] = byte(x >> (8 * i))
			}
			h.Write(b[:])
		}
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// TestEncPoolEachEntryOnce: concurrent takers drain a pool; every entry is
// handed out exactly once (all ciphertexts distinct, as many as were
// filled) and the pool is empty after. Run with -race.
func TestEncPoolEachEntryOnce(t *testing.T) {
	p := mustParams(t, testSet)
	c := newConsortium(t, p, "a", "b")
	const n, takers = 24, 6
	ep := filledPool(t, c, n, n)
	if ep.Len() != n {
		t.Fatalf("pool holds %d, filled %d", ep.Len(), n)
	}
	var mu sync.Mutex
	seen := map[[32]byte]int{}
	seenC1 := map[[32]byte]bool{}
	var wg sync.WaitGroup
	for g := range takers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ct, err := ep.Take(g % (MaxChain + 1))
				if err != nil {
					t.Error(err)
					return
				}
				if ct == nil {
					return
				}
				full := ctHash(t, p, ct)
				mu.Lock()
				seen[full]++
				seenC1[c1Hash(ct)] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	total := 0
	for _, k := range seen {
		total += k
		if k != 1 {
			t.Fatalf("a ciphertext was handed out %d times", k)
		}
	}
	if total != n || len(seenC1) != n {
		t.Fatalf("took %d entries (%d distinct c1), filled %d", total, len(seenC1), n)
	}
	if ep.Len() != 0 {
		t.Fatalf("pool holds %d after every entry was taken", ep.Len())
	}
	if ct, err := ep.Take(1); ct != nil || err != nil {
		t.Fatalf("Take on an empty pool: %v, %v", ct != nil, err)
	}
}

// TestEncPoolAcrossQueries plays the observer of two queries' first
// steps: one pool serves both (refilled in between, and emptied within
// the second so that some blocks fall back), and no two blocks of either
// query share an encryption of zero; every block decrypts right.
func TestEncPoolAcrossQueries(t *testing.T) {
	p := mustParams(t, testSet)
	c := newConsortium(t, p, "a", "b")
	w := p.NewWorker(c.pk, nil)
	ep := filledPool(t, c, 4, 4)
	vals := []uint64{1, 2, 3, 4, 5}
	c1s := map[[32]byte]string{}
	hits := 0
	for q, blocks := range []int{3, 6} {
		for b := range blocks {
			ct, hit, err := w.EncryptBlockPooled(ep, vals, 2)
			if err != nil {
				t.Fatal(err)
			}
			if hit {
				hits++
			}
			where := fmt.Sprintf("query %d block %d", q, b)
			if prev, dup := c1s[c1Hash(ct)]; dup {
				t.Fatalf("%s reuses the encryption of zero of %s", where, prev)
			}
			c1s[c1Hash(ct)] = where
			if got := c.decryptSlots(t, ct); got[4] != 5 || got[5] != 0 {
				t.Fatalf("%s decrypts to %v...", where, got[:6])
			}
		}
		if err := ep.FillN(context.Background(), 1); err != nil { // a little idle time between queries
			t.Fatal(err)
		}
	}
	if hits != 5 { // 3 of 4 in the first query, 1 left + 1 refilled in the second
		t.Fatalf("%d pool hits, want 5", hits)
	}
}

// TestEncPoolFallback: an empty (or absent) pool gives a correct fresh
// encryption, reported as a miss, and takes nothing.
func TestEncPoolFallback(t *testing.T) {
	p := mustParams(t, testSet)
	c := newConsortium(t, p, "a", "b")
	w := p.NewWorker(c.pk, nil)
	empty := filledPool(t, c, 3, 0)
	vals := []uint64{7, 0, 35184368877568}
	for _, tc := range []struct {
		name string
		pool *EncPool
	}{{"empty", empty}, {"none", nil}} {
		t.Run(tc.name, func(t *testing.T) {
			ct, hit, err := w.EncryptBlockPooled(tc.pool, vals, 3)
			if err != nil {
				t.Fatal(err)
			}
			if hit {
				t.Fatal("a hit from an empty pool")
			}
			if ct.Level() != 3 {
				t.Fatalf("fresh block at level %d, want 3", ct.Level())
			}
			if got := c.decryptSlots(t, ct); got[0] != 7 || got[1] != 0 || got[2] != vals[2] || got[3] != 0 {
				t.Fatalf("fresh block decrypts to %v...", got[:4])
			}
		})
	}
	if empty.Len() != 0 {
		t.Fatal("a fallback filled the pool")
	}
}

// TestEncPoolRefusals: a pool under another consortium's key is refused
// (its blocks would not decrypt), and so are bad sizes, levels and a
// worker without a key.
func TestEncPoolRefusals(t *testing.T) {
	p := mustParams(t, testSet)
	c := newConsortium(t, p, "a", "b")
	other := newConsortium(t, p, "x", "y")
	ep := filledPool(t, c, 1, 1)
	if _, _, err := other.p.NewWorker(other.pk, nil).EncryptBlockPooled(ep, []uint64{1}, 2); !errors.Is(err, ErrPoolKey) {
		t.Fatalf("a pool under another key: %v, want ErrPoolKey", err)
	}
	if _, _, err := p.NewWorker(nil, nil).EncryptBlockPooled(ep, []uint64{1}, 2); err == nil {
		t.Fatal("a worker without a public key encrypted")
	}
	if ep.Len() != 1 {
		t.Fatal("a refused encryption consumed an entry")
	}
	if _, err := ep.Take(MaxChain + 1); err == nil {
		t.Fatal("Take above the pool's level succeeded")
	}
	if _, _, err := p.NewWorker(c.pk, nil).EncryptBlockPooled(ep, []uint64{1}, MaxChain+1); err == nil {
		t.Fatal("a chain longer than MaxChain encrypted")
	}
	for _, size := range []int{0, -1} {
		if _, err := p.NewEncPool(c.pk, size); err == nil {
			t.Fatalf("pool of %d entries accepted", size)
		}
	}
	if _, err := p.NewEncPool(nil, 1); err == nil {
		t.Fatal("pool without a key accepted")
	}
}

// waitLen polls until the pool holds want entries (or fails after a
// generous deadline: the fillers compute on a loaded machine).
func waitLen(t *testing.T, ep *EncPool, want int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for ep.Len() != want {
		if time.Now().After(deadline) {
			t.Fatalf("pool holds %d, want %d", ep.Len(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestEncPoolFillBound: background fillers (two, racing) fill to the bound
// and no further, refill what is taken, do not fill while paused, and stop
// with their context.
func TestEncPoolFillBound(t *testing.T) {
	p := mustParams(t, testSet)
	c := newConsortium(t, p, "a", "b")
	const size = 5
	ep := filledPool(t, c, size, 0)
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- ep.Fill(ctx) }()
	}
	waitLen(t, ep, size)
	if err := ep.FillN(ctx, 3); err != nil || ep.Len() != size {
		t.Fatalf("filling a full pool: %v, %d entries", err, ep.Len())
	}
	time.Sleep(50 * time.Millisecond)
	if ep.Len() != size {
		t.Fatalf("pool grew to %d past its bound %d", ep.Len(), size)
	}

	resume := ep.Pause()
	time.Sleep(50 * time.Millisecond) // an entry under way when paused is finished
	for range size {
		if ct, _ := ep.Take(1); ct == nil {
			t.Fatal("pool ran dry")
		}
	}
	before := ep.Len()
	time.Sleep(100 * time.Millisecond)
	if ep.Len() != before {
		t.Fatalf("paused pool went from %d to %d entries", before, ep.Len())
	}
	resume()
	resume() // idempotent
	waitLen(t, ep, size)

	cancel()
	for range 2 {
		if err := <-errs; !errors.Is(err, context.Canceled) {
			t.Fatalf("filler stopped with %v", err)
		}
	}
	_, _ = ep.Take(1)
	time.Sleep(50 * time.Millisecond)
	if ep.Len() != size-1 {
		t.Fatalf("stopped pool refilled to %d", ep.Len())
	}
}
