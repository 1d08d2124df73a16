package auditor

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"

	"github.com/mpcq/mpcq/ledger/audit"
)

// tree returns a Merkle tree of n entries; the prefix "fork" changes them.
func tree(n int, prefix string) *testonly.Tree {
	t := testonly.New(rfc6962.DefaultHasher)
	for i := range n {
		t.AppendData([]byte(fmt.Sprintf("%sentry %d", prefix, i)))
	}
	return t
}

func TestCheckConsistency(t *testing.T) {
	log := tree(190, "")
	st := func(size uint64) State { return State{Size: size, Root: log.HashAt(size)} }
	proofOf := func(a, b uint64) [][]byte {
		p, err := log.ConsistencyProof(a, b)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	forked := tree(190, "fork ")
	for _, tc := range []struct {
		name      string
		prev, cur State
		proof     [][]byte
		want      error
	}{
		{"extension", st(186), st(190), proofOf(186, 190), nil},
		{"same checkpoint", st(190), st(190), nil, nil},
		{"from the empty log", State{Size: 0}, st(190), nil, nil},
		{"rollback 190 to 186", st(190), st(186), nil, ErrRollback},
		{"fork at the same size", st(190), State{Size: 190, Root: forked.Hash()}, nil, ErrFork},
		{"fork: another history", st(186), State{Size: 190, Root: forked.Hash()}, proofOf(186, 190), ErrFork},
		{"extension with a bad proof", st(186), st(190), proofOf(185, 190), ErrFork},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckConsistency(tc.prev, tc.cur, tc.proof)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("CheckConsistency = %v, want %v", err, tc.want)
			}
			// The message names both checkpoints.
			for _, s := range []string{fmt.Sprintf("size %d", tc.prev.Size), fmt.Sprintf("%x", tc.cur.Root)} {
				if !strings.Contains(err.Error(), s) {
					t.Fatalf("error %q does not name %q", err, s)
				}
			}
		})
	}
}

// testProfile is a profile whose keys sign checkpoints of trees.
type testProfile struct {
	*Profile
	logS   note.Signer
	cosign note.Signer
}

func newTestProfile(t *testing.T) testProfile {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, "ledger.test")
	if err != nil {
		t.Fatal(err)
	}
	logS, _ := note.NewSigner(skey)
	logV, _ := note.NewVerifier(vkey)
	wskey, _, err := note.GenerateKey(rand.Reader, "party-a")
	if err != nil {
		t.Fatal(err)
	}
	cs, err := fnote.NewSignerForCosignatureV1(wskey)
	if err != nil {
		t.Fatal(err)
	}
	return testProfile{Profile: &Profile{Dir: t.TempDir(), LogV: logV, Cosigners: []note.Verifier{cs.Verifier()}}, logS: logS, cosign: cs}
}

func (p testProfile) report(t *testing.T, tr *testonly.Tree) audit.Report {
	t.Helper()
	text := fmt.Sprintf("%s\n%d\n%s\n", p.LogV.Name(), tr.Size(), base64.StdEncoding.EncodeToString(tr.Hash()))
	raw, err := note.Sign(&note.Note{Text: text}, p.logS, p.cosign)
	if err != nil {
		t.Fatal(err)
	}
	return audit.Report{Origin: p.LogV.Name(), Size: tr.Size(), Root: tr.Hash(), Checkpoint: raw}
}

// A rollback or a fork fails and leaves the remembered state alone.
func TestRememberRefusesRollbackAndFork(t *testing.T) {
	p := newTestProfile(t)
	ctx := context.Background()
	noTiles := func(path string) ([]byte, error) { return nil, fmt.Errorf("%s: %w", path, os.ErrNotExist) }
	now := time.Date(2026, 11, 29, 23, 0, 0, 0, time.UTC)

	big := p.report(t, tree(190, ""))
	if prev, err := p.Remember(ctx, noTiles, big, now); err != nil || prev != nil {
		t.Fatalf("first Remember = %v, %v", prev, err)
	}
	saved, _ := os.ReadFile(p.statePath())

	if _, err := p.Remember(ctx, noTiles, p.report(t, tree(186, "")), now.Add(time.Hour)); !errors.Is(err, ErrRollback) ||
		!strings.Contains(err.Error(), "size 190") || !strings.Contains(err.Error(), "size 186") {
		t.Fatalf("Remember after a rollback = %v", err)
	}
	if _, err := p.Remember(ctx, noTiles, p.report(t, tree(190, "fork ")), now.Add(time.Hour)); !errors.Is(err, ErrFork) {
		t.Fatalf("Remember of a fork = %v", err)
	}
	if after, _ := os.ReadFile(p.statePath()); string(after) != string(saved) {
		t.Fatal("a bad log overwrote the remembered state")
	}
	if prev, err := p.Remember(ctx, noTiles, big, now.Add(time.Hour)); err != nil || prev == nil || prev.Size != 190 {
		t.Fatalf("Remember of the same checkpoint = %v, %v", prev, err)
	}

	// A tampered state file is refused, not trusted.
	st, err := p.LoadState()
	if err != nil {
		t.Fatal(err)
	}
	st.Size = 100
	if err := p.SaveState(*st); err != nil {
		t.Fatal(err)
	}
	if _, err := p.LoadState(); !errors.Is(err, ErrState) {
		t.Fatalf("LoadState of a tampered state = %v", err)
	}
}
