package request

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/mpcq/mpcq/pki"
)

type fixture struct {
	caPEM            []byte
	alice, bob, part []byte // certificates
	aliceKey, bobKey ed25519.PrivateKey
	partKey          ed25519.PrivateKey
	now              time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	now := time.Now()
	ca, err := pki.NewCA("test CA", now, 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{caPEM: ca.CertPEM(), now: now}
	issue := func(role pki.Role, name string) ([]byte, ed25519.PrivateKey) {
		c, k, err := ca.Issue(role, name, nil, now, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		priv, err := pki.PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return c, priv
	}
	f.alice, f.aliceKey = issue(pki.RoleAnalyst, "alice")
	f.bob, f.bobKey = issue(pki.RoleAnalyst, "bob")
	f.part, f.partKey = issue(pki.RoleParty, "bank")
	return f
}

func TestRoundTrip(t *testing.T) {
	r, err := New("SELECT COUNT(*) FROM bank", "case", "warrant 1", []byte("pk"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got != r {
		t.Fatalf("round trip: %+v != %+v", got, r)
	}
	if !bytes.HasPrefix(b, []byte(Domain)) {
		t.Fatal("no domain separator")
	}
	r.Privacy = Privacy{EpsilonMilli: 1000, Collusion: 2, WarrantHash: [32]byte{1}}
	nb, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Decode(nb); err != nil || got != r {
		t.Fatalf("round trip with privacy: %+v, %v", got, err)
	}
	if len(nb) != len(b)+privacyLen {
		t.Fatalf("privacy block of %d bytes, want %d", len(nb)-len(b), privacyLen)
	}
}

func TestVerify(t *testing.T) {
	f := newFixture(t)
	r, err := New("SELECT SUM(bank.balance) FROM bank", "case 7", "warrant 7", []byte("analyst pk"), f.now)
	if err != nil {
		t.Fatal(err)
	}
	enc, sig, err := Sign(r, f.aliceKey)
	if err != nil {
		t.Fatal(err)
	}
	other := r
	other.Canonical = "SELECT SUM(bank.balance) FROM bank WHERE bank.balance > 0"
	otherEnc, _ := other.Encode()
	old := r
	old.Time = f.now.Add(-MaxAge - time.Minute).Unix()
	oldEnc, oldSig, _ := Sign(old, f.aliceKey)
	future := r
	future.Time = f.now.Add(MaxSkew + time.Minute).Unix()
	futEnc, futSig, _ := Sign(future, f.aliceKey)
	bobEnc, bobSig, _ := Sign(r, f.bobKey)
	partEnc, partSig, _ := Sign(r, f.partKey)
	otherCA, _ := pki.NewCA("other", f.now, 2*time.Hour)
	for _, tc := range []struct {
		name          string
		enc, sig, crt []byte
		ca            []byte
		want          error
	}{
		{"valid", enc, sig, f.alice, f.caPEM, nil},
		{"altered SQL", otherEnc, sig, f.alice, f.caPEM, ErrBadSignature},
		{"another analyst's signature", enc, sig, f.bob, f.caPEM, ErrBadSignature},
		{"signed by bob, claims alice", bobEnc, bobSig, f.alice, f.caPEM, ErrBadSignature},
		{"bob's own request", bobEnc, bobSig, f.bob, f.caPEM, nil},
		{"a party's certificate", partEnc, partSig, f.part, f.caPEM, ErrCertificate},
		{"foreign CA", enc, sig, f.alice, otherCA.CertPEM(), ErrCertificate},
		{"too old", oldEnc, oldSig, f.alice, f.caPEM, ErrStale},
		{"in the future", futEnc, futSig, f.alice, f.caPEM, ErrStale},
		{"truncated signature", enc, sig[:10], f.alice, f.caPEM, ErrBadSignature},
		{"garbage certificate", enc, sig, []byte("nope"), f.caPEM, ErrCertificate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Verify(tc.enc, tc.sig, tc.crt, tc.ca, f.now)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Verify: %v, want %v", err, tc.want)
			}
			if err == nil && (v.Analyst.Role != pki.RoleAnalyst || v.KeyHash != KeyHash([]byte("analyst pk"))) {
				t.Fatalf("verified %+v", v)
			}
		})
	}
}

func TestDecodeRefuses(t *testing.T) {
	r, _ := New("SELECT 1", "p", "l", nil, time.Now())
	good, _ := r.Encode()
	long := append([]byte{}, good[:len(Domain)]...)
	long = append(long, 0xff, 0xff, 0xff, 0xff)
	for name, b := range map[string][]byte{
		"empty":              nil,
		"no domain":          good[len(Domain):],
		"truncated":          good[:len(good)-1],
		"trailing":           append(append([]byte{}, good...), 0),
		"huge field":         long,
		"zero privacy block": append(append([]byte{}, good...), make([]byte, privacyLen)...),
		"collusion on exact": append(append([]byte{}, good...), append(make([]byte, 9), append([]byte{1}, make([]byte, 32)...)...)...),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Decode(b); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode: %v, want ErrMalformed", err)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	r, _ := New("SELECT COUNT(*) FROM bank", "p", "l", []byte("k"), time.Now())
	good, _ := r.Encode()
	f.Add(good)
	f.Add([]byte(Domain))
	r.Privacy = Privacy{EpsilonMilli: 500, Collusion: 1}
	noisy, _ := r.Encode()
	f.Add(noisy)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Decode(b)
		if err != nil {
			return
		}
		again, err := r.Encode()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("decoded %+v does not re-encode to its bytes: %v", r, err)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	f := newFixture(&testing.T{})
	r, _ := New("SELECT SUM(bank.balance) FROM bank", "p", "l", []byte("k"), f.now)
	enc, sig, _ := Sign(r, f.aliceKey)
	for b.Loop() {
		if _, err := Verify(enc, sig, f.alice, f.caPEM, f.now); err != nil {
			b.Fatal(err)
		}
	}
}
