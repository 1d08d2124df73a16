package coordinator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mpcq/mpcq/internal/gen"
	"github.com/mpcq/mpcq/internal/rpc"
	"github.com/mpcq/mpcq/mpc"
	"github.com/mpcq/mpcq/plan"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

func testEnv(t *testing.T, entities uint64) queryEnv {
	c := newTestConsortium(t)
	return queryEnv{keys: &keySet{params: c.params}, epoch: &epochState{ID: "e-test", Entities: entities}, schema: gen.Consortium()}
}

func TestIntakeRefuses(t *testing.T) {
	c := newTestConsortium(t)
	apk := c.params.MarshalPublicKey(c.apk)
	valid := func(sql string) *pb.QueryRequest {
		return &pb.QueryRequest{Sql: sql, Purpose: "fraud inquiry", LegalBasis: "CASE-1", AnalystPublicKey: apk}
	}
	with := func(f func(r *pb.QueryRequest)) *pb.QueryRequest {
		r := valid("SELECT COUNT(*) FROM bank")
		f(r)
		return r
	}
	cases := []struct {
		name     string
		req      *pb.QueryRequest
		entities uint64
		want     error // a sentinel the error wraps
		planErr  bool  // a *plan.Error, with its position
	}{
		{"no purpose", with(func(r *pb.QueryRequest) { r.Purpose = "" }), 0, ErrBadQuery, false},
		{"no legal basis", with(func(r *pb.QueryRequest) { r.LegalBasis = "" }), 0, ErrBadQuery, false},
		{"no analyst key", with(func(r *pb.QueryRequest) { r.AnalystPublicKey = nil }), 0, mpc.ErrMalformed, false},
		{"truncated analyst key", with(func(r *pb.QueryRequest) { r.AnalystPublicKey = apk[:len(apk)-1] }), 0, mpc.ErrMalformed, false},
		{"syntax", valid("SELEC COUNT(*) FROM bank"), 0, plan.ErrSyntax, true},
		{"unknown column", valid("SELECT COUNT(*) FROM bank WHERE bank.cash > 5"), 0, plan.ErrUnknownName, true},
		{"missing FROM", valid("SELECT COUNT(*)"), 0, plan.ErrInvalid, true},
		{"table joined twice", valid("SELECT COUNT(*) FROM bank JOIN bank USING (person_id)"), 0, plan.ErrInvalid, true},
		{"unqualified column", valid("SELECT COUNT(*) FROM bank WHERE balance > 5"), 0, plan.ErrInvalid, true},
		{"duplicate output names", valid(`SELECT COUNT(*), SUM(bank.balance) AS "COUNT(*)" FROM bank`), 0, plan.ErrInvalid, true},
		{"arithmetic overflow", valid("SELECT COUNT(*) FROM bank WHERE bank.balance * bank.balance * bank.balance > 5"), 0, plan.ErrInvalid, true},
		{"EXPLAIN", valid("EXPLAIN SELECT COUNT(*) FROM bank"), 0, ErrBadQuery, false},
		{"sum past what digits represent", valid("SELECT SUM(bank.balance) FROM bank"), 10_000_000_000_000, plan.ErrOverflow, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			entities := tc.entities
			if entities == 0 {
				entities = 1000
			}
			_, err := intake(tc.req, testEnv(t, entities))
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want an error wrapping %v", err, tc.want)
			}
			var pe *plan.Error
			if errors.As(err, &pe) != tc.planErr {
				t.Fatalf("error %v: *plan.Error %v, want %v", err, !tc.planErr, tc.planErr)
			}
			if code := rpc.Code(err, codeMap...); code != codes.InvalidArgument {
				t.Fatalf("error %v becomes %v, want InvalidArgument", err, code)
			}
		})
	}
}

func TestIntakePlans(t *testing.T) {
	c := newTestConsortium(t)
	req := &pb.QueryRequest{Sql: "SELECT bank.district, COUNT(*), SUM(telecom.calls_30d) FROM telecom JOIN bank USING (person_id) GROUP BY bank.district",
		Purpose: "fraud inquiry", LegalBasis: "CASE-1", AnalystPublicKey: c.params.MarshalPublicKey(c.apk)}
	pq, err := intake(req, testEnv(t, 1000))
	if err != nil {
		t.Fatal(err)
	}
	// The GROUP BY table goes last in the chain.
	if !slices.Equal(pq.tables, []string{"telecom", "bank"}) {
		t.Errorf("chain %v, want [telecom bank]", pq.tables)
	}
	if pq.layout.Groups != 10 || pq.layout.Sums != 2 || pq.layout.Terms != 1 {
		t.Errorf("layout %+v, want 1 term × 10 groups × 2 sums", pq.layout)
	}
	if pq.planPB == nil || len(pq.planPB.Sums) != 2 {
		t.Errorf("wire plan %v", pq.planPB)
	}
}

func TestReadyEnv(t *testing.T) {
	keys, epoch := &keySet{}, &epochState{}
	cases := []struct {
		name  string
		phase string
		keys  *keySet
		epoch *epochState
		ok    bool
	}{
		{"ready", "ready", keys, epoch, true},
		{"a party down", "waiting for parties", keys, epoch, false},
		{"ceremony running", "key ceremony", keys, epoch, false},
		{"no keys", "ready", nil, epoch, false},
		{"no epoch", "ready", keys, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var down []string
			if tc.phase == "waiting for parties" {
				down = []string{"utility"}
			}
			_, err := readyEnv(tc.phase, down, tc.keys, tc.epoch, gen.Consortium())
			if down != nil && (err == nil || !strings.Contains(err.Error(), "party utility is down")) {
				t.Fatalf("got %v, want the down party named", err)
			}
			if (err == nil) != tc.ok {
				t.Fatalf("got %v, want ok=%v", err, tc.ok)
			}
			if err != nil && (!errors.Is(err, ErrNotReady) || rpc.Code(err, codeMap...) != codes.Unavailable) {
				t.Fatalf("got %v (%v), want ErrNotReady as Unavailable", err, rpc.Code(err, codeMap...))
			}
		})
	}
}

// TestErrorMap checks the codes the coordinator's errors become.
func TestErrorMap(t *testing.T) {
	_, parseErr := plan.Parse("SELECT COUNT(*)", gen.Consortium())
	cases := []struct {
		name string
		err  error
		want codes.Code
	}{
		{"plan error", parseErr, codes.InvalidArgument},
		{"plan error wrapped", fmt.Errorf("planning: %w", parseErr), codes.InvalidArgument},
		{"bad request", fmt.Errorf("%w: no purpose", ErrBadQuery), codes.InvalidArgument},
		{"undecodable bytes", fmt.Errorf("analyst key: %w", mpc.ErrMalformed), codes.InvalidArgument},
		{"a party's bad value", partyFailed("bank", fmt.Errorf("share: %w", mpc.ErrMalformed)), codes.Unavailable},
		{"a party's failure", partyFailed("bank", errors.New("connection reset")), codes.Unavailable},
		{"a party's refusal passed on", partyFailed("bank", status.Error(codes.PermissionDenied, "gate")), codes.PermissionDenied},
		{"not ready", ErrNotReady, codes.Unavailable},
		{"ledger", fmt.Errorf("%w: append", ErrLedger), codes.Unavailable},
		{"deadline", fmt.Errorf("chain: %w", context.DeadlineExceeded), codes.DeadlineExceeded},
		{"anything else", errors.New("disk on fire"), codes.Internal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := rpc.Code(tc.err, codeMap...); got != tc.want {
				t.Fatalf("%v becomes %v, want %v", tc.err, got, tc.want)
			}
			st := status.Convert(rpc.ToStatus(tc.err, codeMap...))
			if st.Code() != tc.want || st.Message() != tc.err.Error() {
				t.Fatalf("ToStatus: %v %q, want %v %q", st.Code(), st.Message(), tc.want, tc.err.Error())
			}
		})
	}
}
