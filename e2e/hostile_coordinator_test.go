package e2e

import (
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/mpcq/mpcq/internal/analyst"
	"github.com/mpcq/mpcq/internal/auditor"
	"github.com/mpcq/mpcq/internal/demo"
	"github.com/mpcq/mpcq/internal/wire"
	"github.com/mpcq/mpcq/ledger/audit"
	"github.com/mpcq/mpcq/ledger/entry"
	"github.com/mpcq/mpcq/mpc"
	"github.com/mpcq/mpcq/mpc/chainsig"
	"github.com/mpcq/mpcq/pki"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// committed is a query the real coordinator committed (and answered),
// as a hostile coordinator holds it: the QUERY entry with its proof and
// cosigned checkpoint, the analyst's signed request and the plan.
type committed struct {
	id      string
	chain   []string
	plan    *pb.Plan
	entry   []byte
	index   uint64
	proof   [][]byte
	cp      []byte
	request *pb.SignedRequest
	keyHash [32]byte
	warrant []byte
}

// committedEntry reads a query's QUERY entry, its inclusion proof and the
// cosigned checkpoint from the ledger, as an auditor does, and checks them.
func committedEntry(ctx context.Context, t *testing.T, l *demo.Layout, queryID string) audit.Receipted {
	t.Helper()
	aud, err := auditor.Load(l.AuditorDir())
	if err != nil {
		t.Fatal(err)
	}
	fetch, err := aud.Fetcher(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	receipt, err := aud.Prove(ctx, fetch, queryID)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := aud.CheckReceipt(receipt)
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

func commitGenuine(ctx context.Context, t *testing.T, l *demo.Layout, p *analyst.Profile, client pb.CoordinatorClient, sql string) committed {
	t.Helper()
	return commitRequest(ctx, t, l, p, client, analyst.Request{SQL: sql})
}

// commitRequest is commitGenuine for any request (a warrant of its own).
func commitRequest(ctx context.Context, t *testing.T, l *demo.Layout, p *analyst.Profile, client pb.CoordinatorClient, req analyst.Request) committed {
	t.Helper()
	sql := req.SQL
	res, err := p.Query(ctx, client, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	rc := committedEntry(ctx, t, l, res.QueryID)
	q := rc.Entry.(entry.Query)
	planPB, err := committedPlan(ctx, l, sql)
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := wire.PlanHash(planPB); h != q.PlanHash {
		t.Fatal("reconstructed plan does not hash to the committed plan hash")
	}
	// The analyst's signature, as the coordinator archived it.
	ar, err := coordinatorAs(t, l, l.AuditorDir()).Archive(ctx, &pb.ArchiveRequest{QueryId: res.QueryID})
	if err != nil || len(ar.Records) != 1 || ar.Records[0].Request == nil {
		t.Fatalf("archived signed request of %s: %v", res.QueryID, err)
	}
	return committed{id: res.QueryID, chain: res.Chain, plan: planPB, entry: rc.Raw, index: rc.Index, proof: rc.Proof,
		cp: rc.Checkpoint.Raw, request: ar.Records[0].Request, keyHash: q.AnalystKeyHash, warrant: ar.Records[0].Warrant}
}

// hostileCoordinator plays a coordinator that holds its own certificate,
// the collective public key and every genuine message, against the real
// party daemons: each attack on the chain or on the analyst's request is
// refused with a precise error, and no sums or decryption share leave any
// party.
func hostileCoordinator(t *testing.T, l *demo.Layout) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p, client, closeFn, err := l.Analyst()
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	// Two sums over two tables: the first party (telecom) sends two
	// ciphertexts per block, which the reorder attack swaps.
	const innocent = "SELECT COUNT(*), SUM(bank.balance), SUM(telecom.calls_30d) FROM telecom JOIN bank USING (person_id)"
	const otherSQL = "SELECT COUNT(*), SUM(bank.balance), SUM(telecom.calls_30d) FROM telecom JOIN bank USING (person_id) WHERE telecom.calls_30d > 5000"
	q1 := commitGenuine(ctx, t, l, p, client, innocent)
	q2 := commitGenuine(ctx, t, l, p, client, innocent) // the same query, committed again
	q3 := commitGenuine(ctx, t, l, p, client, otherSQL)
	if len(q1.chain) != 2 || !slices.Equal(q1.chain, q2.chain) {
		t.Fatalf("chains %v, %v: the test wants one chain of two", q1.chain, q2.chain)
	}
	params, err := mpc.NewParams(mpc.DefaultSetName)
	if err != nil {
		t.Fatal(err)
	}
	parties := map[string]pb.PartyClient{}
	var st *pb.PartyStatus
	for _, name := range l.Parties {
		parties[name] = asCoordinator(t, l, name)
		if st, err = parties[name].Status(ctx, &pb.PartyStatusRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	header := func(q committed, pos int, inMap []uint32) *pb.QueryHeader {
		return &pb.QueryHeader{QueryId: q.id, Plan: q.plan, Chain: q.chain, Position: uint32(pos), EpochId: st.EpochId,
			Entities: st.Entities, CeremonyId: st.CeremonyId, InMap: inMap,
			LedgerEntry: q.entry, LedgerIndex: q.index, InclusionProof: q.proof, Checkpoint: q.cp, Request: q.request, Warrant: q.warrant}
	}
	// step runs one party's step with header h and incoming msgs: its
	// error and the ciphertext messages it sent (the first party's blocks).
	step := func(h *pb.QueryHeader, msgs []*pb.BlockMessage) ([]uint32, []*pb.BlockMessage, error) {
		stream, err := parties[h.Chain[h.Position]].QueryStep(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := stream.Send(&pb.BlockMessage{Header: h}); err != nil {
			t.Fatal(err)
		}
		first, err := stream.Recv()
		if err != nil {
			return nil, nil, err
		}
		for _, m := range msgs {
			if stream.Send(m) != nil {
				break // the party failed; Recv says why
			}
		}
		_ = stream.CloseSend()
		var out []*pb.BlockMessage
		for {
			m, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				return first.OutMap, out, nil
			}
			if err != nil {
				return first.OutMap, out, err
			}
			out = append(out, m)
		}
	}
	// The first party's genuine, signed blocks for q1 and for q2.
	inMap, blocks1, err := step(header(q1, 0, nil), nil)
	if err != nil || len(blocks1) == 0 {
		t.Fatalf("genuine first step of %s: %v (%d messages)", q1.id, err, len(blocks1))
	}
	_, blocks2, err := step(header(q2, 0, nil), nil)
	if err != nil {
		t.Fatalf("genuine first step of %s: %v", q2.id, err)
	}
	// Sanity: the genuine blocks go through the last party.
	if _, sums, err := step(header(q1, 1, inMap), blocks1); err != nil || len(sums) == 0 {
		t.Fatalf("genuine last step: %v (%d messages)", err, len(sums))
	}
	clone := func(ms []*pb.BlockMessage) []*pb.BlockMessage {
		out := make([]*pb.BlockMessage, len(ms))
		for i, m := range ms {
			out[i] = proto.Clone(m).(*pb.BlockMessage)
		}
		return out
	}

	// A one-hot vector encrypted under the collective public key, in
	// blocks of the genuine shape, unsigned or signed with the
	// coordinator's own key.
	pkb, err := os.ReadFile(l.Path("parties", "bank", "state", "collective.pk"))
	if err != nil {
		t.Fatal(err)
	}
	cpk, err := params.UnmarshalPublicKey(pkb)
	if err != nil {
		t.Fatal(err)
	}
	oneHot := make([]uint64, params.Slots())
	oneHot[42] = 1
	ct, err := params.NewWorker(cpk, nil).EncryptBlock(oneHot, len(q1.chain))
	if err != nil {
		t.Fatal(err)
	}
	injected := encryptedLike(t, params, blocks1, ct)
	_, coordKeyPEM, err := pki.LoadKeyPair(l.Path("coordinator", "cert.pem"), l.Path("coordinator", "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	coordKey, err := pki.PrivateKey(coordKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	coordSigned := clone(injected)
	qh, _ := wire.PlanHash(q1.plan)
	for _, m := range coordSigned {
		m.Signature = chainsig.Sign(coordKey, chainsig.Binding{QueryID: q1.id, PlanHash: qh, Position: 0},
			chainsig.Ref{Block: m.Block, Offset: m.Offset, Total: m.Total}, m.Ciphertexts)
	}
	// Reorder: two ciphertexts of a message swapped, or two messages'
	// places (block, offset) swapped.
	reordered := clone(blocks1)
	switch {
	case len(reordered[0].Ciphertexts) >= 2:
		m := reordered[0]
		m.Ciphertexts[0], m.Ciphertexts[1] = m.Ciphertexts[1], m.Ciphertexts[0]
	case len(reordered) >= 2:
		a, b := reordered[0], reordered[1]
		a.Block, b.Block, a.Offset, b.Offset = b.Block, a.Block, b.Offset, a.Offset
	default:
		t.Fatal("one message of one ciphertext: nothing to reorder")
	}
	var duplicated []*pb.BlockMessage
	for _, m := range blocks1 {
		duplicated = append(duplicated, m, m)
	}

	chainAttacks := []struct {
		name string
		msgs []*pb.BlockMessage
		code codes.Code
		say  string
	}{
		{"one-hot ciphertext encrypted by the coordinator, unsigned", injected, codes.PermissionDenied, chainsig.ErrBadSignature.Error()},
		{"one-hot ciphertext signed with the coordinator's key", coordSigned, codes.PermissionDenied, chainsig.ErrBadSignature.Error()},
		{"signed blocks replayed from another query", blocks2, codes.PermissionDenied, chainsig.ErrBadSignature.Error()},
		{"ciphertexts reordered within a block", reordered, codes.PermissionDenied, chainsig.ErrBadSignature.Error()},
		{"a block dropped", blocks1[:len(blocks1)-1], codes.InvalidArgument, "received"},
		{"every block twice", duplicated, codes.InvalidArgument, ""},
	}
	if len(blocks1) == 1 {
		chainAttacks[len(chainAttacks)-2].msgs = nil // the one block dropped
	}
	for _, a := range chainAttacks {
		t.Run(a.name, func(t *testing.T) {
			_, sums, err := step(header(q1, 1, inMap), a.msgs)
			if status.Code(err) != a.code || !strings.Contains(err.Error(), a.say) {
				t.Fatalf("%s: got %v, want %v saying %q", q1.chain[1], err, a.code, a.say)
			}
			if a.code == codes.InvalidArgument && !strings.Contains(err.Error(), "repeated") && !strings.Contains(err.Error(), "twice") && !strings.Contains(err.Error(), "received") {
				t.Fatalf("%s: %v does not say what is wrong with the blocks", q1.chain[1], err)
			}
			if len(sums) != 0 {
				t.Fatalf("%s sent %d sum messages after a refused step", q1.chain[1], len(sums))
			}
		})
	}

	// The analyst's request: what the coordinator can no longer change.
	bobCert, bobKey := secondAnalyst(t, l)
	aliceCert, aliceKey, err := pki.LoadKeyPair(l.Path("analyst", analyst.CertFile), l.Path("analyst", analyst.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	apk, err := os.ReadFile(l.Path("analyst", analyst.PublicKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	bobSigned, err := signDemo(t, l, q1.plan.Canonical, apk, bobCert, bobKey, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	stale, err := signDemo(t, l, q1.plan.Canonical, apk, aliceCert, aliceKey, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	otherKeySigned, err := analyst.SignRequest(q1.plan.Canonical, "e2e", "TEST", append([]byte{1}, apk[1:]...), aliceCert, aliceKey, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	withReq := func(q committed, r *pb.SignedRequest) committed { q.request = r; return q }
	withPlan := func(q committed, pl *pb.Plan) committed { q.plan = pl; return q }
	aliceSigBobCert := proto.Clone(q1.request).(*pb.SignedRequest)
	aliceSigBobCert.Certificate = bobCert
	requestAttacks := []struct {
		name string
		q    committed
		say  string
	}{
		{"a plan other than the committed one", withPlan(q1, q3.plan), "plan differs from the one committed"},
		{"SQL altered after the analyst signed (committed as altered)", withReq(q3, q1.request), "the analyst signed"},
		{"no analyst signature", withReq(q1, nil), "without the analyst's signed request"},
		{"another analyst's request for a query committed for this one", withReq(q1, bobSigned), "committed on the ledger for"},
		{"this analyst's signature under another analyst's certificate", withReq(q1, aliceSigBobCert), "bad analyst signature"},
		{"a signature on a request for another key", withReq(q1, otherKeySigned), "signed analyst key differs"},
		{"a stale signature", withReq(q1, stale), "outside the accepted window"},
		{"a signed request replayed under another query", withReq(q2, q1.request), "already used for query"},
	}
	for _, a := range requestAttacks {
		t.Run(a.name, func(t *testing.T) {
			for pos := range a.q.chain {
				_, _, err := step(header(a.q, pos, inMap), nil)
				if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), a.say) {
					t.Errorf("step at %s: got %v, want PermissionDenied saying %q", a.q.chain[pos], err, a.say)
				}
			}
			for _, name := range l.Parties {
				req := &pb.DecryptShareRequest{QueryId: a.q.id, Plan: a.q.plan, ChainLen: uint32(len(a.q.chain)), AnalystPublicKey: apk,
					Ciphertexts: [][]byte{make([]byte, params.CiphertextSize(mpc.DecryptLevel))}, CeremonyId: st.CeremonyId,
					LedgerEntry: a.q.entry, LedgerIndex: a.q.index, InclusionProof: a.q.proof, Checkpoint: a.q.cp, Request: a.q.request, Warrant: a.q.warrant}
				reply, err := parties[name].DecryptShare(ctx, req)
				if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), a.say) || reply != nil {
					t.Errorf("decryption share at %s: got %v, want PermissionDenied saying %q", name, err, a.say)
				}
			}
		})
	}

	t.Run("an all-zero analyst key", func(t *testing.T) {
		zero := make([]byte, len(apk))
		for _, name := range l.Parties {
			_, err := parties[name].DecryptShare(ctx, &pb.DecryptShareRequest{QueryId: q1.id, Plan: q1.plan, ChainLen: 2, AnalystPublicKey: zero,
				Ciphertexts: [][]byte{make([]byte, params.CiphertextSize(mpc.DecryptLevel))}, CeremonyId: st.CeremonyId,
				LedgerEntry: q1.entry, LedgerIndex: q1.index, InclusionProof: q1.proof, Checkpoint: q1.cp, Request: q1.request, Warrant: q1.warrant})
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "degenerate public key") {
				t.Errorf("decryption share at %s for an all-zero key: got %v", name, err)
			}
		}
		signed, err := signDemo(t, l, q1.plan.Canonical, zero, aliceCert, aliceKey, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		stream, err := client.Query(ctx, &pb.QueryRequest{Sql: innocent, Purpose: "e2e", LegalBasis: "TEST", AnalystPublicKey: zero, Signed: signed})
		if err == nil {
			_, err = stream.Recv()
		}
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "degenerate public key") {
			t.Errorf("coordinator intake of an all-zero key: got %v", err)
		}
	})

	t.Run("only the committed circuit's packed output is decrypted", func(t *testing.T) {
		decryptAttacks(ctx, t, params, parties, l, st, q1, q3, step, header, ct, coordKey, apk)
	})

	t.Run("coordinator intake refuses what the analyst did not sign", func(t *testing.T) {
		signed, err := signDemo(t, l, q1.plan.Canonical, apk, aliceCert, aliceKey, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name string
			req  *pb.QueryRequest
			say  string
		}{
			{"altered SQL", &pb.QueryRequest{Sql: otherSQL, Purpose: "e2e", LegalBasis: "TEST", AnalystPublicKey: apk, Signed: signed}, "the signed query is"},
			{"altered legal basis", &pb.QueryRequest{Sql: innocent, Purpose: "e2e", LegalBasis: "OTHER", AnalystPublicKey: apk, Signed: signed}, "legal basis differs"},
			{"another analyst's signature", &pb.QueryRequest{Sql: innocent, Purpose: "e2e", LegalBasis: "TEST", AnalystPublicKey: apk, Signed: bobSigned}, "sent by"},
			{"unsigned", &pb.QueryRequest{Sql: innocent, Purpose: "e2e", LegalBasis: "TEST", AnalystPublicKey: apk}, "no analyst signature"},
		} {
			stream, err := client.Query(ctx, c.req)
			if err == nil {
				_, err = stream.Recv()
			}
			if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), c.say) {
				t.Errorf("%s: got %v, want PermissionDenied saying %q", c.name, err, c.say)
			}
		}
	})
}

// decryptAttacks asks every party for a decryption share of what is not
// the committed circuit's packed output of the query, each with the
// genuine QUERY entry, proof and signed request: an unpacked ciphertext
// signed in the chain, a ciphertext the coordinator encrypted itself,
// another committed query's packed output, the right packed output with
// a wrong or absent signature. Every party refuses with
// PermissionDenied naming chainsig.ErrNotPackedOutput and gives no share.
// The control: the genuine packed output with its signature passes the
// check and is refused only as already decrypted (the real coordinator
// got the query answered).
func decryptAttacks(ctx context.Context, t *testing.T, params *mpc.Params, parties map[string]pb.PartyClient, l *demo.Layout, st *pb.PartyStatus,
	q1, q3 committed, step func(*pb.QueryHeader, []*pb.BlockMessage) ([]uint32, []*pb.BlockMessage, error),
	header func(committed, int, []uint32) *pb.QueryHeader, oneHot *rlwe.Ciphertext, coordKey ed25519.PrivateKey, apk []byte) {
	t.Helper()
	genuine := func(q committed) (blocks, packed []*pb.BlockMessage) {
		inMap, blocks, err := step(header(q, 0, nil), nil)
		if err != nil {
			t.Fatalf("genuine first step of %s: %v", q.id, err)
		}
		_, packed, err = step(header(q, 1, inMap), blocks)
		if err != nil {
			t.Fatalf("genuine last step of %s: %v", q.id, err)
		}
		return blocks, packed
	}
	blocks1, packed1 := genuine(q1)
	_, packed3 := genuine(q3)
	// The last party sends its packed totals only, each signed: its
	// unpacked per-slot sums never leave it.
	for _, packed := range [][]*pb.BlockMessage{packed1, packed3} {
		if len(packed) != 1 || len(packed[0].Ciphertexts) != 1 || len(packed[0].Ciphertexts[0]) != params.CiphertextSize(mpc.DecryptLevel) {
			t.Fatalf("the last party sent %d messages, want one packed ciphertext at the decryption level", len(packed))
		}
	}
	// An unpacked, chain-signed ciphertext (the first party's block: one
	// person per slot), dropped to the decryption level, with its chain
	// signature.
	unpacked := atDecryptLevel(params, blocks1[0].Ciphertexts[0])
	raw1 := packed1[0].Ciphertexts[0]
	oneHotRaw, err := params.MarshalCiphertext(oneHot)
	if err != nil {
		t.Fatal(err)
	}
	own := atDecryptLevel(params, oneHotRaw)
	qh1, _ := wire.PlanHash(q1.plan)
	lastB := chainsig.Binding{QueryID: q1.id, PlanHash: qh1, Position: uint32(len(q1.chain) - 1)}
	reversed := slices.Clone(q1.chain)
	slices.Reverse(reversed)
	request := func(q committed, chain []string, ct, sig []byte) *pb.DecryptShareRequest {
		var sigs [][]byte
		if sig != nil {
			sigs = [][]byte{sig}
		}
		return &pb.DecryptShareRequest{QueryId: q.id, Plan: q.plan, ChainLen: uint32(len(q.chain)), AnalystPublicKey: apk,
			Ciphertexts: [][]byte{ct}, PackedSignatures: sigs, Chain: chain, CeremonyId: st.CeremonyId,
			LedgerEntry: q.entry, LedgerIndex: q.index, InclusionProof: q.proof, Checkpoint: q.cp, Request: q.request, Warrant: q.warrant}
	}
	attacks := []struct {
		name string
		req  *pb.DecryptShareRequest
	}{
		{"(1) an unpacked chain-signed ciphertext with its chain signature", request(q1, q1.chain, unpacked, blocks1[0].Signature)},
		{"(2) a ciphertext the coordinator encrypted at the decryption level, unsigned", request(q1, q1.chain, own, nil)},
		{"(2) the same, signed with the coordinator's key", request(q1, q1.chain, own, chainsig.SignPacked(coordKey, lastB, 0, 1, own))},
		{"(3) another committed query's packed output, with its genuine signature", request(q1, q1.chain, packed3[0].Ciphertexts[0], packed3[0].Signature)},
		{"(4) the right packed output without a signature", request(q1, q1.chain, raw1, nil)},
		{"(4) the right packed output with another query's signature", request(q1, q1.chain, raw1, packed3[0].Signature)},
		{"(4) the right packed output signed by the coordinator", request(q1, q1.chain, raw1, chainsig.SignPacked(coordKey, lastB, 0, 1, raw1))},
		{"(4) the right packed output, the chain naming the first party last", request(q1, reversed, raw1, packed1[0].Signature)},
		{"(4) the right packed output, no chain", request(q1, nil, raw1, packed1[0].Signature)},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			for _, name := range l.Parties {
				reply, err := parties[name].DecryptShare(ctx, a.req)
				if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), chainsig.ErrNotPackedOutput.Error()) || reply != nil {
					t.Errorf("decryption share at %s: got %v (reply %v), want PermissionDenied saying %q", name, err, reply != nil, chainsig.ErrNotPackedOutput)
				}
			}
		})
	}
	t.Run("control: the signed packed output passes the check", func(t *testing.T) {
		for _, q := range []struct {
			q      committed
			packed *pb.BlockMessage
		}{{q1, packed1[0]}, {q3, packed3[0]}} {
			for _, name := range l.Parties {
				reply, err := parties[name].DecryptShare(ctx, request(q.q, q.q.chain, q.packed.Ciphertexts[0], q.packed.Signature))
				if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "decryption already given") || reply != nil {
					t.Errorf("%s at %s: got %v, want only the once-per-query refusal", q.q.id, name, err)
				}
			}
		}
	})
}

// atDecryptLevel drops a raw degree-1 ciphertext (limbs 0..L of each of
// its two polynomials) to mpc.DecryptLevel: a public operation anyone
// holding the ciphertext can do.
func atDecryptLevel(params *mpc.Params, raw []byte) []byte {
	limb := params.Slots() * 8
	limbs := len(raw) / (2 * limb)
	keep := (mpc.DecryptLevel + 1) * limb
	out := append([]byte{}, raw[:keep]...)
	return append(out, raw[limbs*limb:limbs*limb+keep]...)
}

// encryptedLike returns messages of the same shape as genuine (block,
// offset, total, count) whose every ciphertext is ct.
func encryptedLike(t *testing.T, params *mpc.Params, genuine []*pb.BlockMessage, ct *rlwe.Ciphertext) []*pb.BlockMessage {
	t.Helper()
	raw, err := params.MarshalCiphertext(ct)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*pb.BlockMessage, len(genuine))
	for i, m := range genuine {
		if len(raw) != len(m.Ciphertexts[0]) {
			t.Fatalf("injected ciphertext of %d bytes, genuine %d", len(raw), len(m.Ciphertexts[0]))
		}
		out[i] = &pb.BlockMessage{Block: m.Block, Offset: m.Offset, Total: m.Total, Ciphertexts: make([][]byte, len(m.Ciphertexts))}
		for j := range m.Ciphertexts {
			out[i].Ciphertexts[j] = raw
		}
	}
	return out
}

// secondAnalyst issues a certificate for another analyst with the
// consortium CA.
func secondAnalyst(t *testing.T, l *demo.Layout) (certPEM, keyPEM []byte) {
	t.Helper()
	ca, err := pki.LoadCAFiles(l.Path("pki", "ca.pem"), l.Path("pki", "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err = ca.Issue(pki.RoleAnalyst, "analyst-bob", nil, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return certPEM, keyPEM
}
