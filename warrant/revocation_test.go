package warrant

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRevocationRoundTrip(t *testing.T) {
	c := newConsortium(t)
	s := c.sign(t, c.warrant(t))
	r := Revocation{WarrantHash: Hash(s), Time: c.now.Unix(), Reason: "case closed"}
	enc, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseRevocation(enc)
	if err != nil || got != r {
		t.Fatalf("ParseRevocation(Encode(r)) = %+v, %v", got, err)
	}
	sr, err := SignRevocation(r, c.judge.key, c.judge.certPEM)
	if err != nil {
		t.Fatal(err)
	}
	file := sr.Marshal()
	parsed, err := ParseSignedRevocation(file)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(parsed, sr) || !bytes.Equal(parsed.Marshal(), file) {
		t.Fatal("ParseSignedRevocation(Marshal(s)) != s")
	}
	if _, err := ParseSigned(file); !errors.Is(err, ErrMalformed) {
		t.Fatalf("a revocation file parsed as a warrant: %v", err)
	}
	if _, err := ParseSignedRevocation(s.Marshal()); !errors.Is(err, ErrMalformed) {
		t.Fatalf("a warrant file parsed as a revocation: %v", err)
	}
	if RevocationHash(sr) == Hash(s) {
		t.Fatal("revocation hash equals the warrant's")
	}
}

func TestRevocationValidate(t *testing.T) {
	for name, r := range map[string]Revocation{
		"no time":        {Reason: "x"},
		"no reason":      {Time: 1},
		"control char":   {Time: 1, Reason: "a\tb"},
		"long reason":    {Time: 1, Reason: strings.Repeat("x", MaxReason+1)},
		"leading spaces": {Time: 1, Reason: "  x"},
	} {
		if _, err := r.Encode(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Encode: %v, want ErrMalformed", name, err)
		}
	}
	good, _ := Revocation{Time: 1, Reason: "x"}.Encode()
	for name, b := range map[string][]byte{
		"empty":     nil,
		"warrant":   append([]byte(Domain), good[len(RevocationDomain):]...),
		"truncated": good[:len(good)-1],
		"trailing":  append(bytes.Clone(good), 'x'),
	} {
		if _, err := ParseRevocation(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: ParseRevocation: %v, want ErrMalformed", name, err)
		}
	}
}

func TestVerifyRevocation(t *testing.T) {
	c := newConsortium(t)
	s := c.sign(t, c.warrant(t))
	v, err := Verify(s, c.caPEM, c.now)
	if err != nil {
		t.Fatal(err)
	}
	other, err := Verify(c.sign(t, c.warrant(t)), c.caPEM, c.now)
	if err != nil {
		t.Fatal(err)
	}
	r := Revocation{WarrantHash: v.Hash, Time: c.now.Unix(), Reason: "case closed"}
	signAsR := func(r Revocation, m member) SignedRevocation {
		sr, err := SignRevocation(r, m.key, m.certPEM)
		if err != nil {
			// SignRevocation refuses non-authorizers; sign by hand.
			enc, _ := r.Encode()
			return SignedRevocation{Revocation: enc, Signature: ed25519.Sign(m.key, enc), Certificate: signAs(t, c.warrant(t), m).Certificate}
		}
		return sr
	}
	good := signAsR(r, c.judge)
	future := r
	future.Time = c.now.Add(time.Hour).Unix()
	tampered := bytes.Clone(good.Revocation)
	tampered[len(tampered)-1] ^= 1

	cases := []struct {
		name    string
		s       SignedRevocation
		warrant Verified
		want    error
	}{
		{"ok", good, v, nil},
		{"missing", SignedRevocation{}, v, ErrMalformed},
		{"other warrant", good, other, ErrWrongWarrant},
		{"another authorizer", signAsR(r, c.judge2), v, ErrCertificate},
		{"an analyst", signAsR(r, c.alice), v, ErrCertificate},
		{"a party", signAsR(r, c.party), v, ErrCertificate},
		{"authorizer of another CA", signAsR(r, c.foreignJudge), v, ErrCertificate},
		{"tampered", SignedRevocation{Revocation: tampered, Signature: good.Signature, Certificate: good.Certificate}, v, ErrBadSignature},
		{"dated in the future", signAsR(future, c.judge), v, ErrNotYetValid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vr, err := VerifyRevocation(tc.s, c.caPEM, tc.warrant, c.now)
			if tc.want == nil {
				if err != nil || vr.Revocation != r || vr.Authorizer.String() != c.judge.uri {
					t.Fatalf("VerifyRevocation: %+v, %v", vr, err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("VerifyRevocation: %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := SignRevocation(r, c.alice.key, c.alice.certPEM); !errors.Is(err, ErrCertificate) {
		t.Fatalf("SignRevocation by an analyst: %v", err)
	}
}
