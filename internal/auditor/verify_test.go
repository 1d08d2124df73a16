package auditor

import (
	"context"
	"crypto/rand"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mpcq/mpcq/internal/testledger"
	"github.com/mpcq/mpcq/ledger/archive"
	"github.com/mpcq/mpcq/ledger/audit"
	"github.com/mpcq/mpcq/ledger/entry"
	"github.com/mpcq/mpcq/ledger/request"
	"github.com/mpcq/mpcq/pki"
)

// TestVerifyChecksWhoAsked: with the archive, Verify checks every opened
// QUERY's signed request against the profile's consortium CA. A request
// the coordinator altered, or one another analyst signed, fails at the
// QUERY's entry index with the query id and the reason; a record with no
// signed request is a warning.
func TestVerifyChecksWhoAsked(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	now := time.Now()
	ca, err := pki.NewCA("consortium", now.Add(-2*time.Hour), 4*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(name string) ([]byte, []byte) {
		cert, keyPEM, err := ca.Issue(pki.RoleAnalyst, name, nil, now.Add(-2*time.Hour), 3*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return cert, keyPEM
	}
	aliceCert, aliceKeyPEM := issue("alice")
	bobCert, bobKeyPEM := issue("bob")
	aliceKey, _ := pki.PrivateKey(aliceKeyPEM)
	bobKey, _ := pki.PrivateKey(bobKeyPEM)

	const text, purpose, basis = "SELECT COUNT(*) FROM bank", "fraud ring 2024-17", "Art. 6(1)(e) GDPR"
	rlwePK := []byte("alice's RLWE public key")
	req, err := request.New(text, purpose, basis, rlwePK, now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	enc, sig, err := request.Sign(req, aliceKey)
	if err != nil {
		t.Fatal(err)
	}
	altered := req
	altered.Purpose = "curiosity"
	alteredEnc, err := altered.Encode()
	if err != nil {
		t.Fatal(err)
	}
	bobEnc, bobSig, err := request.Sign(req, bobKey)
	if err != nil {
		t.Fatal(err)
	}
	pd, err := entry.PurposeData(purpose, basis)
	if err != nil {
		t.Fatal(err)
	}
	qOpen, _ := entry.NewOpening(rand.Reader, []byte(text))
	pOpen, _ := entry.NewOpening(rand.Reader, pd)
	good := archive.Record{QueryID: "q-1", QueryText: qOpen, Purpose: pOpen,
		Signed: archive.SignedRequest{Request: enc, Signature: sig, Certificate: aliceCert}}

	// A ledger: a CEREMONY, an EPOCH and the QUERY committed for alice (entry 2).
	lg := testledger.Write(t, dir, "mpcq.test/auditor", []entry.Entry{
		entry.Ceremony{ParamSet: "test"},
		entry.Epoch{EpochID: 1},
		entry.Query{QueryID: "q-1", QueryCommitment: qOpen.Commitment(), Analyst: "mpcq://analyst/alice", PurposeCommitment: pOpen.Commitment(),
			AnalystKeyHash: request.KeyHash(rlwePK), EpochID: 1, ParamSet: "test", Time: now.Add(-time.Hour).Unix()},
	})
	logDir := lg.Dir

	profileDir := filepath.Join(dir, "profile")
	cfg := ProfileConfig{Coordinator: "127.0.0.1:1", Ledger: LedgerInfo{URL: "https://127.0.0.1:1/", PublicKey: lg.PublicKey,
		Witnesses: lg.Witnesses}}
	if err := WriteProfile(profileDir, cfg, ca.CertPEM(), []byte("cert"), []byte("key")); err != nil {
		t.Fatal(err)
	}
	p, err := Load(profileDir)
	if err != nil {
		t.Fatal(err)
	}

	alteredRec, bobRec, unsigned := good, good, good
	alteredRec.Signed.Request = alteredEnc
	bobRec.Signed = archive.SignedRequest{Request: bobEnc, Signature: bobSig, Certificate: bobCert}
	unsigned.Signed = archive.SignedRequest{}
	for _, tc := range []struct {
		name    string
		rec     archive.Record
		want    string // "" : verifies
		warning bool
	}{
		{"signed by the analyst committed", good, "", false},
		{"request altered after signing", alteredRec, "signature", false},
		{"signed by another analyst", bobRec, "signed by mpcq://analyst/bob, committed for mpcq://analyst/alice", false},
		{"no signed request archived", unsigned, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := archive.Open(filepath.Join(t.TempDir(), "archive.db"), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			if err := a.Put(tc.rec.QueryID, tc.rec); err != nil {
				t.Fatal(err)
			}
			rep, _, err := p.Verify(ctx, audit.DirFetcher(logDir), a)
			if tc.want == "" {
				if err != nil || rep.OpeningsChecked != 1 || (len(rep.Warnings) == 1) != tc.warning {
					t.Fatalf("Verify = %v; %d openings checked, warnings %q (want a warning: %v)", err, rep.OpeningsChecked, rep.Warnings, tc.warning)
				}
				return
			}
			var ae *audit.Error
			if !errors.As(err, &ae) || !ae.HasIndex || ae.Index != 2 || !errors.Is(err, audit.ErrRequest) || !errors.Is(err, archive.ErrUnsigned) {
				t.Fatalf("Verify = %v; want ErrRequest at entry 2", err)
			}
			msg := err.Error()
			for _, part := range []string{"entry 2", `QUERY "q-1"`, tc.want} {
				if !strings.Contains(msg, part) {
					t.Fatalf("Verify error %q lacks %q", msg, part)
				}
			}
		})
	}
}
