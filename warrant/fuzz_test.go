package warrant

import (
	"bytes"
	"testing"
)

// Every parser of untrusted bytes accepts only canonical encodings: what
// it accepts, re-encodes to the same bytes.

func fuzzSeeds(f *testing.F) (warrant, signed, revocation, signedRevocation []byte) {
	c := newConsortium(f)
	s := c.sign(f, c.warrant(f))
	r := Revocation{WarrantHash: Hash(s), Time: c.now.Unix(), Reason: "case closed"}
	sr, err := SignRevocation(r, c.judge.key, c.judge.certPEM)
	if err != nil {
		f.Fatal(err)
	}
	return s.Warrant, s.Marshal(), sr.Revocation, sr.Marshal()
}

func FuzzParse(f *testing.F) {
	w, _, _, _ := fuzzSeeds(f)
	f.Add(w)
	f.Add([]byte(Domain))
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := Parse(b)
		if err != nil {
			return
		}
		again, err := w.Encode()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("Parse accepted a non-canonical encoding: %v", err)
		}
	})
}

func FuzzParseSigned(f *testing.F) {
	_, s, _, _ := fuzzSeeds(f)
	f.Add(s)
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSigned(b)
		if err != nil {
			return
		}
		if !bytes.Equal(s.Marshal(), b) {
			t.Fatal("ParseSigned accepted a non-canonical file")
		}
	})
}

func FuzzParseRevocation(f *testing.F) {
	_, _, r, _ := fuzzSeeds(f)
	f.Add(r)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRevocation(b)
		if err != nil {
			return
		}
		again, err := r.Encode()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("ParseRevocation accepted a non-canonical encoding: %v", err)
		}
	})
}

func FuzzParseSignedRevocation(f *testing.F) {
	_, _, _, sr := fuzzSeeds(f)
	f.Add(sr)
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSignedRevocation(b)
		if err != nil {
			return
		}
		if !bytes.Equal(s.Marshal(), b) {
			t.Fatal("ParseSignedRevocation accepted a non-canonical file")
		}
	})
}

func FuzzParseEpsilon(f *testing.F) {
	for _, s := range []string{"0", "2.5", "0.125", "1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseEpsilon(s)
		if err != nil {
			return
		}
		back, err := ParseEpsilon(FormatEpsilon(m))
		if err != nil || back != m {
			t.Fatalf("ParseEpsilon(FormatEpsilon(%d)) = %d, %v", m, back, err)
		}
	})
}
