package coordinator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/mpcq/mpcq/internal/rpc"
	"github.com/mpcq/mpcq/ledger"
	"github.com/mpcq/mpcq/ledger/entry"
	"github.com/mpcq/mpcq/mpc"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// Intake refuses control characters in the purpose and the legal basis,
// naming the field and the position, before anything is recorded.
func TestIntakeRefusesControlCharacters(t *testing.T) {
	c := newTestConsortium(t)
	apk := c.params.MarshalPublicKey(c.apk)
	for _, tc := range []struct {
		name, purpose, basis, field, pos string
	}{
		{"newline in purpose", "audit\n2026-01-01  q-forged  alice", "CASE-1", "purpose", "character 6"},
		{"CR in purpose", "audit\rX", "CASE-1", "purpose", "character 6"},
		{"escape in legal basis", "audit", "CASE-1\x1b[2J", "legal basis", "character 7"},
		{"bidi override in legal basis", "audit", "\u202eCASE", "legal basis", "character 1"},
		{"tab in purpose", "a\tb", "CASE-1", "purpose", "character 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := &pb.QueryRequest{Sql: "SELECT COUNT(*) FROM bank", Purpose: tc.purpose, LegalBasis: tc.basis, AnalystPublicKey: apk}
			_, err := intake(req, testEnv(t, 1000))
			if !errors.Is(err, ErrBadQuery) || !errors.Is(err, entry.ErrInvalid) {
				t.Fatalf("intake = %v; want ErrBadQuery", err)
			}
			if !strings.Contains(err.Error(), tc.field) || !strings.Contains(err.Error(), tc.pos) {
				t.Fatalf("error %q does not name %s and %s", err, tc.field, tc.pos)
			}
			if code := rpc.Code(err, codeMap...); code != codes.InvalidArgument {
				t.Fatalf("error becomes %v, want InvalidArgument", code)
			}
		})
	}
}

func TestFailureOf(t *testing.T) {
	partyErr := &mpc.PartyError{Party: "bank", Err: context.Canceled}
	chainErr := fmt.Errorf("%w: chain: %w", ErrParty, partyErr)
	for _, tc := range []struct {
		name              string
		streamErr, qErr   error
		stopping          bool
		err               error
		wantParty, reason string
	}{
		{"analyst cancelled", context.Canceled, context.Canceled, false, chainErr, "", "cancelled by the analyst"},
		{"analyst deadline", context.DeadlineExceeded, context.DeadlineExceeded, false, chainErr, "", "the analyst's deadline expired"},
		{"coordinator deadline", nil, context.DeadlineExceeded, false, chainErr, "bank", "timed out after 600 s"},
		{"shutting down", context.Canceled, context.Canceled, true, chainErr, "", "interrupted: the coordinator was shutting down"},
		{"a party failed", nil, nil, false, &mpc.PartyError{Party: "telco", Err: errors.New("bad block")}, "telco", "party telco: bad block"},
		{"the coordinator failed", nil, nil, false, errors.New("aggregation"), "", "aggregation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			party, cause := failureOf(tc.streamErr, tc.qErr, tc.stopping, 600*time.Second, tc.err)
			if party != tc.wantParty || !strings.HasPrefix(cause.Error(), tc.reason) {
				t.Fatalf("failureOf = %q, %q; want %q, %q…", party, cause, tc.wantParty, tc.reason)
			}
		})
	}
}

func TestUnfinishedScan(t *testing.T) {
	entries := []entry.Entry{
		entry.Ceremony{},
		entry.Query{QueryID: "q-answered"},
		entry.Query{QueryID: "q-killed"},
		entry.Result{QueryID: "q-answered"},
		entry.Query{QueryID: "q-failed"},
		entry.Failure{QueryID: "q-failed", Reason: "party bank: bad block", Party: "bank"},
		entry.Query{QueryID: "q-refused"},
		entry.Failure{QueryID: "", Reason: "ceremony"},
		entry.Query{QueryID: "q-new"}, // index 8: this run's, not reconciled
	}
	scan := newUnfinishedScan(8)
	for i, e := range entries {
		scan.visit(uint64(i), e)
	}
	if got, want := scan.unfinished(), []string{"q-killed", "q-refused"}; !slices.Equal(got, want) {
		t.Fatalf("unfinished = %v, want %v", got, want)
	}
}

func TestHealthToProto(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	h := ledger.Health{Checkpoint: ledger.Checkpoint{Size: 186}, CosignedAt: now.Add(-time.Minute), Pending: 2,
		Refusing: []ledger.Refusal{{Cosigner: "bank-witness", Since: now.Add(-20 * time.Second), Count: 9, Size: 188,
			Err: errors.New("witness state store failed: no space left on device"), NextTry: now.Add(25 * time.Second)}}}
	got := healthToProto(h, map[string]string{"bank-witness": "bank"})
	if got.Healthy || !got.Open || got.CheckpointSize != 186 || got.PendingEntries != 2 || len(got.Refusals) != 1 {
		t.Fatalf("healthToProto = %v", got)
	}
	r := got.Refusals[0]
	if r.Party != "bank" || r.Refusals != 9 || r.CheckpointSize != 188 || !strings.Contains(r.Error, "no space left") {
		t.Fatalf("refusal = %v", r)
	}
	if ok := healthToProto(ledger.Health{Checkpoint: ledger.Checkpoint{Size: 3}}, nil); !ok.Healthy {
		t.Fatalf("healthy log reported as %v", ok)
	}
}

// TestLedgerUnready: the ledger keeps the consortium from being ready
// while it is not open, unreadable or a party refuses to cosign, and the
// reason names the refusing party.
func TestLedgerUnready(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    *pb.LedgerHealth
		want string // "" : no reason
	}{
		{"healthy", &pb.LedgerHealth{Open: true, Healthy: true}, ""},
		{"not reported", nil, ""},
		{"not open", &pb.LedgerHealth{Error: "ledger not open yet"}, "ledger not open: ledger not open yet"},
		{"a party refuses", &pb.LedgerHealth{Open: true, Refusals: []*pb.CosignerRefusal{{Party: "utility", Error: "no space left on device"}}},
			"ledger not healthy: party utility refuses to cosign: no space left on device"},
		{"unreadable", &pb.LedgerHealth{Open: true, Error: "reading checkpoint: EIO"}, "ledger not healthy: reading checkpoint: EIO"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ledgerUnready(tc.h); got != tc.want {
				t.Fatalf("ledgerUnready = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestStatusNotReadyWithoutLedger: set-up done (phase ready, keys, epoch,
// every party up) is not ready while the ledger cannot publish; the
// status text says why.
func TestStatusNotReadyWithoutLedger(t *testing.T) {
	s := &Server{cfg: &Config{}, phase: "ready", keys: &keySet{}, epoch: &epochState{}, status: map[string]*pb.PartyState{}}
	st, err := s.Status(context.Background(), &pb.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Ready || st.Ledger.GetHealthy() || !strings.Contains(st.Error, "ledger not open") {
		t.Fatalf("status with no ledger: ready %v, error %q, ledger %v", st.Ready, st.Error, st.Ledger)
	}
}
