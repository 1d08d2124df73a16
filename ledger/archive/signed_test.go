package archive

import (
	"errors"
	"testing"
	"time"

	"github.com/mpcq/mpcq/ledger/entry"
	"github.com/mpcq/mpcq/ledger/request"
	"github.com/mpcq/mpcq/pki"
)

func TestCheckRequest(t *testing.T) {
	now := time.Now()
	ca, err := pki.NewCA("test", now.Add(-2*time.Hour), 4*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, keyPEM, err := ca.Issue(pki.RoleAnalyst, "alice", nil, now.Add(-2*time.Hour), 3*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := pki.PrivateKey(keyPEM)
	const text = "SELECT COUNT(*) FROM bank"
	pk := []byte("analyst key")
	req, _ := request.New(text, "purpose", "warrant", pk, now.Add(-90*time.Minute)) // older than MaxAge: audits come later
	enc, sig, err := request.Sign(req, key)
	if err != nil {
		t.Fatal(err)
	}
	purpose, _ := entry.PurposeData("purpose", "warrant")
	good := Record{QueryID: "q-1", QueryText: entry.Opening{Data: []byte(text)}, Purpose: entry.Opening{Data: purpose},
		Signed: SignedRequest{Request: enc, Signature: sig, Certificate: cert}}
	q := entry.Query{QueryID: "q-1", Analyst: "mpcq://analyst/alice", AnalystKeyHash: request.KeyHash(pk)}
	otherText, otherAnalyst, unsigned := good, q, good
	otherText.QueryText.Data = []byte(text + " WHERE bank.balance > 0")
	otherAnalyst.Analyst = "mpcq://analyst/bob"
	unsigned.Signed = SignedRequest{}
	for _, tc := range []struct {
		name string
		r    Record
		q    entry.Query
		ok   bool
	}{
		{"valid", good, q, true},
		{"archived text differs", otherText, q, false},
		{"committed for another analyst", good, otherAnalyst, false},
		{"not signed", unsigned, q, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.r.CheckRequest(tc.q, ca.CertPEM())
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrUnsigned)) {
				t.Fatalf("got %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
