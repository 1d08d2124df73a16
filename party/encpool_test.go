package party

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/mpcq/mpcq/internal/metrics"
	"github.com/mpcq/mpcq/internal/wire"
	"github.com/mpcq/mpcq/mpc"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// TestQueryStepDriverEncPool runs every chain through the stream driver
// with the first party's encryptions of zero from a pool one entry short
// of the query's blocks: the totals stay exact, every block but one is a
// pool hit, the last a fresh encryption (a miss, never a reuse), both
// counted in the party's metrics, and the pool is empty after.
func TestQueryStepDriverEncPool(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, tc := range stepCases {
		t.Run(tc.name, func(t *testing.T) {
			pl, order := f.plan(t, tc.sql)
			st, err := f.newStep(t, pl, order, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			encryptions := len(st.outs) * st.blocks
			pool, err := f.params.NewEncPool(f.keys.pk, encryptions)
			if err != nil {
				t.Fatal(err)
			}
			if err := pool.FillN(ctx, encryptions-1); err != nil {
				t.Fatal(err)
			}
			k := *f.keys
			k.pool = pool
			m, err := metrics.NewParty(prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			var inMap []uint32
			var blocks []*pb.BlockMessage
			for pos, name := range order {
				s := f.server(name, 2)
				s.keys, s.metrics = &k, m
				stream := newFakeStream(ctx, append([]*pb.BlockMessage{{Header: f.header(pl, order, pos, inMap)}}, blocks...)...)
				if err := s.runStep(ctx, stream, admitted); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				inMap, blocks = stream.sent[0].OutMap, stream.sent[1:]
			}
			if hits, misses := testutil.ToFloat64(m.EncPoolHits), testutil.ToFloat64(m.EncPoolMisses); hits != float64(encryptions-1) || misses != 1 {
				t.Fatalf("%v hits and %v misses, want %d and 1", hits, misses, encryptions-1)
			}
			if pool.Len() != 0 {
				t.Fatalf("pool holds %d after the query", pool.Len())
			}
			wp, _ := wire.PlanFromProto(pl)
			n := wp.Groups() * len(wp.Sums)
			scale := f.params.ScaleAt(len(order), mpc.DecryptLevel)
			var got []uint64
			for i, msg := range blocks {
				ct, err := f.params.UnmarshalCiphertext(msg.Ciphertexts[0], mpc.DecryptLevel, scale)
				if err != nil {
					t.Fatal(err)
				}
				lo, hi := f.params.PackedChunk(n, i)
				vals, err := f.params.DecryptPacked(f.sk, ct, hi-lo)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, vals...)
			}
			if want := f.want(tc, wp.Groups()); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("totals %v, want %v", got, want)
			}
		})
	}
}

// waitPool polls until cond holds (the filler computes in the background).
func waitPool(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestEncPoolWiring: keys (from the ceremony or loaded) get a pool of
// encryption_pool_blocks entries that fills in the background; new keys
// stop the old pool's filler and get a pool under their own key; 0
// disables the pool; Close stops the filler.
func TestEncPoolWiring(t *testing.T) {
	f := newFixture(t)
	newServer := func(blocks *int) *Server {
		s := &Server{log: zerolog.Nop(), cfg: &Config{EncryptionPoolBlocks: blocks}, src: f.server("ta", 1).src}
		s.bg, s.stopBg = context.WithCancel(context.Background())
		return s
	}
	three, zero := 3, 0
	s := newServer(&three)
	k1 := *f.keys
	s.mu.Lock()
	s.replaceKeysLocked(&k1)
	s.mu.Unlock()
	if k1.pool == nil || k1.pool.Size() != 3 {
		t.Fatalf("keys got pool %v", k1.pool)
	}
	waitPool(t, "the first pool to fill", func() bool { return k1.pool.Len() == 3 })

	// A new ceremony: the old filler stops, the new keys fill their own.
	k2 := *f.keys
	k2.pool, k2.stopPool = nil, nil
	s.mu.Lock()
	s.replaceKeysLocked(&k2)
	s.mu.Unlock()
	if k2.pool == nil || k2.pool == k1.pool {
		t.Fatal("new keys did not get a pool of their own")
	}
	for range 3 {
		if ct, _ := k1.pool.Take(1); ct == nil {
			t.Fatal("old pool ran dry")
		}
	}
	waitPool(t, "the second pool to fill", func() bool { return k2.pool.Len() == 3 })
	time.Sleep(50 * time.Millisecond)
	if k1.pool.Len() != 0 {
		t.Fatalf("the replaced keys' pool refilled to %d", k1.pool.Len())
	}

	s.Close()
	_, _ = k2.pool.Take(1)
	time.Sleep(50 * time.Millisecond)
	if k2.pool.Len() != 2 {
		t.Fatalf("after Close the pool refilled to %d", k2.pool.Len())
	}

	off := newServer(&zero)
	k3 := *f.keys
	k3.pool, k3.stopPool = nil, nil
	off.mu.Lock()
	off.replaceKeysLocked(&k3)
	off.mu.Unlock()
	if k3.pool != nil {
		t.Fatal("encryption_pool_blocks 0 gave a pool")
	}
	off.Close()
}
