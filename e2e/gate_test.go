package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mpcq/mpcq/internal/analyst"
	"github.com/mpcq/mpcq/internal/demo"
	"github.com/mpcq/mpcq/internal/gen"
	"github.com/mpcq/mpcq/internal/wire"
	"github.com/mpcq/mpcq/ledger/entry"
	"github.com/mpcq/mpcq/ledger/request"
	"github.com/mpcq/mpcq/mpc"
	"github.com/mpcq/mpcq/mpc/chainsig"
	"github.com/mpcq/mpcq/pki"
	"github.com/mpcq/mpcq/plan"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
	"github.com/mpcq/mpcq/warrant"
)

// ledgerGate plays a coordinator that asks real party daemons for
// decryption shares without proper traceability; every party must refuse.
func ledgerGate(t *testing.T, l *demo.Layout) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, client, closeFn, err := l.Analyst()
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	s := demo.Samples()[1]
	res, err := p.Query(ctx, client, analyst.Request{SQL: s.SQL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The genuine QUERY entry, its proof and cosigned checkpoint, read
	// from the ledger as an auditor would.
	rc := committedEntry(ctx, t, l, res.QueryID)
	q := rc.Entry.(entry.Query)
	if rc.Index != res.LedgerIndex {
		t.Fatalf("receipt index %d, result says %d", rc.Index, res.LedgerIndex)
	}
	apk, err := os.ReadFile(l.Path("analyst", analyst.PublicKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	params, err := mpc.NewParams(mpc.DefaultSetName)
	if err != nil {
		t.Fatal(err)
	}
	// A plan other than the committed one.
	other, err := committedPlan(ctx, l, "SELECT COUNT(*) FROM telecom JOIN bank USING (person_id)")
	if err != nil {
		t.Fatal(err)
	}
	otherKey := append([]byte(nil), apk...)
	otherKey[100] ^= 1
	forged := q
	forged.Time++
	forgedRaw, err := entry.Marshal(forged)
	if err != nil {
		t.Fatal(err)
	}
	// The checkpoint without the cosignature lines (the first signature
	// line is the log's; the parties' follow).
	cp := rc.Checkpoint.Raw
	sep := bytes.Index(cp, []byte("\n\n"))
	sigs := strings.Split(strings.TrimSpace(string(cp[sep+2:])), "\n")
	uncosigned := append(append([]byte{}, cp[:sep+2]...), []byte(sigs[0]+"\n")...)
	junkProof := make([][]byte, len(rc.Proof))
	for i := range junkProof {
		junkProof[i] = make([]byte, 32)
		_, _ = rand.Read(junkProof[i])
	}
	ct := make([]byte, params.CiphertextSize(mpc.DecryptLevel))
	type attempt struct {
		name  string
		req   *pb.DecryptShareRequest
		wants string
	}
	demoWarrantBytes, _ := demoWarrant(t, l)
	base := func() *pb.DecryptShareRequest {
		return &pb.DecryptShareRequest{QueryId: res.QueryID, Plan: other, ChainLen: 2, AnalystPublicKey: apk, Ciphertexts: [][]byte{ct},
			LedgerEntry: rc.Raw, LedgerIndex: rc.Index, InclusionProof: rc.Proof, Checkpoint: rc.Checkpoint.Raw, Warrant: demoWarrantBytes}
	}
	var attempts []attempt
	{
		r := base()
		r.LedgerEntry, r.InclusionProof, r.Checkpoint = nil, nil, nil
		attempts = append(attempts, attempt{"no ledger entry", r, "without its ledger entry"})
	}
	attempts = append(attempts, attempt{"plan differs from the committed one", base(), "plan differs"})
	{
		r := base()
		r.Checkpoint = uncosigned
		attempts = append(attempts, attempt{"checkpoint not cosigned", r, "not cosigned"})
	}
	{
		r := base()
		r.LedgerEntry = forgedRaw
		attempts = append(attempts, attempt{"entry not in the log", r, "not proven included"})
	}
	{
		r := base()
		r.InclusionProof = junkProof
		attempts = append(attempts, attempt{"forged inclusion proof", r, "not proven included"})
	}
	{
		r := base()
		r.QueryId = "q-other"
		attempts = append(attempts, attempt{"entry of another query", r, "is query"})
	}
	{
		r := base()
		r.AnalystPublicKey = otherKey
		attempts = append(attempts, attempt{"another analyst key", r, ""})
	}
	for _, name := range l.Parties {
		party := asCoordinator(t, l, name)
		st, err := party.Status(ctx, &pb.PartyStatusRequest{})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range attempts {
			a.req.CeremonyId = st.CeremonyId
			_, err := party.DecryptShare(ctx, a.req)
			code := status.Code(err)
			if code != codes.PermissionDenied && !(a.wants == "" && code == codes.InvalidArgument) {
				t.Errorf("%s, %s: got %v, want PermissionDenied", name, a.name, err)
				continue
			}
			if a.wants != "" && !strings.Contains(err.Error(), a.wants) {
				t.Errorf("%s, %s: error %q does not say %q", name, a.name, err, a.wants)
			}
		}
	}
	// The committed plan really is what the coordinator sent; but the real
	// query was already decrypted, and its packed totals are decrypted once.
	planPB, err := committedPlan(ctx, l, s.SQL)
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := wire.PlanHash(planPB); h != q.PlanHash {
		t.Fatalf("test reconstruction of the plan does not match the ledger's plan hash")
	}
	r := base()
	r.Plan = planPB
	r.Ciphertexts = [][]byte{ct} // the query's totals, packed in one ciphertext
	// Even with the analyst's signature on the request (a fresh one).
	certPEM, keyPEM, err := pki.LoadKeyPair(l.Path("analyst", analyst.CertFile), l.Path("analyst", analyst.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if r.Request, err = signDemo(t, l, planPB.Canonical, apk, certPEM, keyPEM, time.Now()); err != nil {
		t.Fatal(err)
	}
	bank := asCoordinator(t, l, "bank")
	st, _ := bank.Status(ctx, &pb.PartyStatusRequest{})
	r.CeremonyId = st.CeremonyId
	// The ciphertext here is not the last party's signed packed output, so
	// the party refuses it as such before it reaches the once-per-query
	// log; the hostile coordinator test presents the genuine signed output
	// and sees the "already decrypted" refusal.
	if _, err := bank.DecryptShare(ctx, r); status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), chainsig.ErrNotPackedOutput.Error()) {
		t.Fatalf("a second decryption of the genuine query: got %v, want PermissionDenied (not the signed packed output)", err)
	}
}

// committedPlan plans sql as the coordinator does.
func committedPlan(_ context.Context, _ *demo.Layout, sql string) (*pb.Plan, error) {
	p, err := plan.Parse(sql, gen.Consortium())
	if err != nil {
		return nil, err
	}
	// The tests' queries fit whole at the demo's size: no digit split.
	_, pp, err := wire.Compile(p.Canonical, gen.Consortium(), plan.Limits{Modulus: ^uint64(0), Entities: 1})
	return pp, err
}

// demoWarrant is the demo analyst's signed warrant (exact answers on
// every table) and the privacy of the requests it signs with it.
func demoWarrant(t *testing.T, l *demo.Layout) ([]byte, request.Privacy) {
	t.Helper()
	b, err := os.ReadFile(l.Path("analyst", demo.WarrantFile))
	if err != nil {
		t.Fatal(err)
	}
	sw, err := warrant.ParseSigned(b)
	if err != nil {
		t.Fatal(err)
	}
	return b, request.Privacy{WarrantHash: warrant.Hash(sw)}
}

// signDemo signs a request as the demo analyst does: exact, under the
// demo warrant.
func signDemo(t *testing.T, l *demo.Layout, canonical string, apk, certPEM, keyPEM []byte, now time.Time) (*pb.SignedRequest, error) {
	_, pr := demoWarrant(t, l)
	return analyst.SignRequestPrivacy(canonical, "e2e", "TEST", pr, apk, certPEM, keyPEM, now)
}
