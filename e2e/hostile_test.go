package e2e

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mpcq/mpcq/internal/analyst"
	"github.com/mpcq/mpcq/internal/demo"
	"github.com/mpcq/mpcq/internal/rpc"
	"github.com/mpcq/mpcq/mpc"
	"github.com/mpcq/mpcq/pki"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// hostileVariants derives bad inputs from a valid value of the right size.
func hostileVariants(valid []byte) map[string][]byte {
	random := make([]byte, len(valid))
	_, _ = rand.Read(random)
	short := make([]byte, 1000)
	_, _ = rand.Read(short)
	return map[string][]byte{
		"empty":                nil,
		"truncated":            valid[:len(valid)-1],
		"truncated half":       valid[:len(valid)/2],
		"oversized":            append(append([]byte{}, valid...), 0, 0, 0, 0, 0, 0, 0, 0),
		"random of exact size": random,
		"random short":         short,
		"huge length claim":    append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, valid[8:]...),
	}
}

// asCoordinator dials a party with the coordinator's certificate, as a
// misbehaving coordinator would.
func asCoordinator(t *testing.T, l *demo.Layout, party string) pb.PartyClient {
	t.Helper()
	tc, err := pki.LoadClientConfig(l.Path("coordinator", "cert.pem"), l.Path("coordinator", "key.pem"), l.Path("pki", "ca.pem"), "127.0.0.1", pki.ExpectMember(pki.RoleParty, party))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := rpc.Dial(l.PartyAddrs[party], tc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return pb.NewPartyClient(conn)
}

func wantInvalid(t *testing.T, what string, err error) {
	t.Helper()
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("%s: got %v, want InvalidArgument", what, err)
	}
}

func hostileBytes(t *testing.T, l *demo.Layout) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	params, err := mpc.NewParams(mpc.DefaultSetName)
	if err != nil {
		t.Fatal(err)
	}
	apk, err := os.ReadFile(l.Path("analyst", analyst.PublicKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	bank := asCoordinator(t, l, "bank")
	st, err := bank.Status(ctx, &pb.PartyStatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := committedPlan(ctx, l, "SELECT COUNT(*) FROM telecom JOIN bank USING (person_id)")
	if err != nil {
		t.Fatal(err)
	}
	validCT := make([]byte, params.CiphertextSize(mpc.DecryptLevel))

	// DecryptShare: the analyst's key and the aggregate ciphertext.
	for name, b := range hostileVariants(apk) {
		_, err := bank.DecryptShare(ctx, &pb.DecryptShareRequest{QueryId: "q-hostile", Plan: plan, ChainLen: 2, CeremonyId: st.CeremonyId,
			AnalystPublicKey: b, Ciphertexts: [][]byte{validCT}})
		wantInvalid(t, "DecryptShare analyst key "+name, err)
	}
	for name, b := range hostileVariants(validCT) {
		_, err := bank.DecryptShare(ctx, &pb.DecryptShareRequest{QueryId: "q-hostile", Plan: plan, ChainLen: 2, CeremonyId: st.CeremonyId,
			AnalystPublicKey: apk, Ciphertexts: [][]byte{b}})
		wantInvalid(t, "DecryptShare ciphertext "+name, err)
	}

	// QueryStep: hostile block bytes no longer reach the decoder. A party
	// works only on a query committed on the ledger and signed by its
	// analyst, and assembles only blocks its predecessor signed (the
	// hostile coordinator test; the inbox's decoding of a signed but
	// undecodable block is party/step_test.go's).
	inCT := make([]byte, params.CiphertextSize(2))
	for name, b := range hostileVariants(inCT) {
		stream, err := bank.QueryStep(ctx)
		if err != nil {
			t.Fatal(err)
		}
		h := &pb.QueryHeader{QueryId: "q-hostile", Plan: plan, Chain: []string{"telecom", "bank"}, Position: 1, EpochId: st.EpochId,
			Entities: st.Entities, CeremonyId: st.CeremonyId, InMap: []uint32{0}}
		if err := stream.Send(&pb.BlockMessage{Header: h}); err != nil {
			t.Fatal(err)
		}
		_ = stream.Send(&pb.BlockMessage{Block: 0, Total: 1, Ciphertexts: [][]byte{b}})
		_ = stream.CloseSend()
		for err == nil {
			_, err = stream.Recv()
		}
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("QueryStep of an uncommitted query with block %s: got %v, want PermissionDenied", name, err)
		}
	}

	// CeremonyFinish: a collective public key from the coordinator.
	names := []string{"bank", "telecom", "utility"}
	nr, err := bank.CeremonyNonce(ctx, &pb.CeremonyNonceRequest{Consortium: "mpcq-demo", CeremonyId: "c-hostile", ParamSet: mpc.DefaultSetName, Parties: names})
	if err != nil {
		t.Fatal(err)
	}
	nonces := map[string][]byte{"bank": nr.Nonce, "telecom": make([]byte, 32), "utility": make([]byte, 32)}
	shares, err := bank.CeremonyShares(ctx, &pb.CeremonySharesRequest{CeremonyId: "c-hostile", Nonces: nonces})
	if err != nil {
		t.Fatal(err)
	}
	var bankShares []*pb.KeyShare
	for {
		m, err := shares.Recv()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			break
		}
		if !m.PublicKey {
			bankShares = append(bankShares, m)
		}
	}
	for name, b := range hostileVariants(apk) {
		_, err := bank.CeremonyFinish(ctx, &pb.CeremonyFinishRequest{CeremonyId: "c-hostile", PublicKey: b})
		wantInvalid(t, "CeremonyFinish public key "+name, err)
	}
	// CeremonyRotationKeys: the party aggregates the rotation keys itself
	// from signed shares; a share the coordinator altered (b + δ) or made
	// (hostile bytes, signed by nobody or in another party's name) is
	// refused before any aggregation.
	if len(bankShares) == 0 || len(bankShares[0].Signature) == 0 {
		t.Fatal("the party sent no signed rotation key shares")
	}
	good := bankShares[0]
	altered := append([]byte{}, good.Share...)
	altered[0] ^= 1
	rotAttacks := map[string]*pb.RotationKey{
		"a share altered by the coordinator": {CeremonyId: "c-hostile", GaloisElement: good.GaloisElement, Party: "bank", Share: altered, Signature: good.Signature},
		"a share in another party's name":    {CeremonyId: "c-hostile", GaloisElement: good.GaloisElement, Party: "telecom", Share: good.Share, Signature: good.Signature},
		"an unsigned share":                  {CeremonyId: "c-hostile", GaloisElement: good.GaloisElement, Party: "bank", Share: good.Share},
	}
	for name, b := range hostileVariants(apk) {
		rotAttacks["hostile bytes "+name] = &pb.RotationKey{CeremonyId: "c-hostile", GaloisElement: good.GaloisElement, Party: "bank", Share: b, Signature: good.Signature}
	}
	for name, m := range rotAttacks {
		stream, err := bank.CeremonyRotationKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_ = stream.Send(m)
		_, err = stream.CloseAndRecv()
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "not signed by its party") {
			t.Errorf("CeremonyRotationKeys, %s: got %v, want InvalidArgument (not signed by its party)", name, err)
		}
	}
	if _, err := bank.CeremonyFinish(ctx, &pb.CeremonyFinishRequest{CeremonyId: "c-hostile", PublicKey: apk}); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "no rotation keys") {
		t.Errorf("CeremonyFinish without the party's own rotation keys: got %v", err)
	}

	// The coordinator: the analyst's public key in a query.
	p, client, closeFn, err := l.Analyst()
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	for name, b := range hostileVariants(apk) {
		stream, err := client.Query(ctx, &pb.QueryRequest{Sql: "SELECT COUNT(*) FROM bank", Purpose: "test", LegalBasis: "TEST-1", AnalystPublicKey: b})
		if err == nil {
			_, err = stream.Recv()
		}
		wantInvalid(t, "Query analyst key "+name, err)
	}

	// Everyone still answers valid requests, with the same keys.
	st2, err := bank.Status(ctx, &pb.PartyStatusRequest{})
	if err != nil || st2.CeremonyId != st.CeremonyId {
		t.Fatalf("bank after hostile input: %v (ceremony %s, was %s)", err, st2.GetCeremonyId(), st.CeremonyId)
	}
	if _, err := p.Query(ctx, client, analyst.Request{SQL: "SELECT COUNT(*) FROM telecom JOIN bank USING (person_id)"}, nil); err != nil {
		t.Fatalf("valid query after hostile input: %v", err)
	}
}
