package coordinator

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mpcq/mpcq/internal/analyst"
	"github.com/mpcq/mpcq/mpc/chainsig"
	"github.com/mpcq/mpcq/pki"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// TestBlame: a party that refuses chain messages its predecessor did not
// sign accuses the relay, so the FAILURE entry names the coordinator;
// any other failure stays the party's.
func TestBlame(t *testing.T) {
	forged := partyFailed("bank", status.Error(codes.PermissionDenied, fmt.Sprintf("%v: query q-1, position 0, block 0", chainsig.ErrBadSignature)))
	party, cause := blame(forged)
	if party != "" || !strings.HasPrefix(cause.Error(), "coordinator: party bank") {
		t.Fatalf("bad chain signature: blamed %q, %v", party, cause)
	}
	other := partyFailed("bank", status.Error(codes.Unavailable, "connection refused"))
	if party, cause := blame(other); party != "bank" || cause != other {
		t.Fatalf("party down: blamed %q, %v", party, cause)
	}
}

func TestCheckSigned(t *testing.T) {
	now := time.Now()
	ca, err := pki.NewCA("test", now, 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	alice, aliceKey, _ := ca.Issue(pki.RoleAnalyst, "alice", nil, now, time.Hour)
	bob, bobKey, _ := ca.Issue(pki.RoleAnalyst, "bob", nil, now, time.Hour)
	aliceID := pki.Identity{Role: pki.RoleAnalyst, Name: "alice"}
	const canonical = "SELECT COUNT(*) FROM bank"
	apk := []byte("analyst key")
	signed := func(cert, key []byte, pk []byte) *pb.SignedRequest {
		s, err := analyst.SignRequest(canonical, "p", "l", pk, cert, key, now)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	req := func(s *pb.SignedRequest, legal string) *pb.QueryRequest {
		return &pb.QueryRequest{Sql: "select count(*) from bank", Purpose: "p", LegalBasis: legal, AnalystPublicKey: apk, Signed: s}
	}
	for _, tc := range []struct {
		name      string
		r         *pb.QueryRequest
		canonical string
		want      error
	}{
		{"valid", req(signed(alice, aliceKey, apk), "l"), canonical, nil},
		{"unsigned", req(nil, "l"), canonical, ErrUnsigned},
		{"signed by another analyst", req(signed(bob, bobKey, apk), "l"), canonical, ErrUnsigned},
		{"other SQL", req(signed(alice, aliceKey, apk), "l"), canonical + " WHERE bank.x > 1", ErrUnsigned},
		{"other legal basis", req(signed(alice, aliceKey, apk), "other"), canonical, ErrUnsigned},
		{"other key", req(signed(alice, aliceKey, []byte("another key")), "l"), canonical, ErrUnsigned},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := checkSigned(tc.r, tc.canonical, ca.CertPEM(), aliceID, now)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}
