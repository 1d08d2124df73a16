package warrant

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestNewCanonicalizes(t *testing.T) {
	c := newConsortium(t)
	w := c.warrant(t)
	if len(w.ID) != 32 {
		t.Fatalf("id %q", w.ID)
	}
	if want := []string{"mpcq://analyst/alice", "mpcq://analyst/bob"}; !reflect.DeepEqual(w.Analysts, want) {
		t.Fatalf("analysts %q, want %q", w.Analysts, want)
	}
	if want := []string{"bank", "telecom"}; !reflect.DeepEqual(w.Scope.Tables, want) {
		t.Fatalf("tables %q, want %q", w.Scope.Tables, want)
	}
	w2 := c.warrant(t)
	if w2.ID == w.ID {
		t.Fatal("two warrants drew the same id")
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	c := newConsortium(t)
	for _, exact := range []bool{false, true} {
		w := c.warrant(t)
		w.Scope.Exact = exact
		if exact {
			w.Scope.Columns = nil
			w.Scope.MaxQueries, w.Scope.EpsilonMilli = 0, 0
		}
		b, err := w.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte(Domain)) {
			t.Fatal("encoding does not start with the domain")
		}
		got, err := Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, w) {
			t.Fatalf("Parse(Encode(w)) = %+v, want %+v", got, w)
		}
		b2, _ := got.Encode()
		if !bytes.Equal(b, b2) {
			t.Fatal("Encode(Parse(b)) != b")
		}
	}
}

func TestValidateRefuses(t *testing.T) {
	c := newConsortium(t)
	cases := []struct {
		name   string
		mutate func(*Warrant)
		want   string
	}{
		{"short id", func(w *Warrant) { w.ID = "abc" }, "id"},
		{"upper-case id", func(w *Warrant) { w.ID = strings.ToUpper(w.ID) }, "id"},
		{"empty case", func(w *Warrant) { w.Case = "" }, "case reference is empty"},
		{"newline in case", func(w *Warrant) { w.Case = "CASE\n1" }, "control"},
		{"escape in case", func(w *Warrant) { w.Case = "CASE\x1b[31m" }, "control"},
		{"bidi override in case", func(w *Warrant) { w.Case = "CASE\u202e1" }, "control"},
		{"trailing space in case", func(w *Warrant) { w.Case = "CASE " }, "white space"},
		{"long case", func(w *Warrant) { w.Case = strings.Repeat("x", MaxCase+1) }, "at most"},
		{"bad utf-8 case", func(w *Warrant) { w.Case = "CASE\xff" }, "UTF-8"},
		{"no analysts", func(w *Warrant) { w.Analysts = nil }, "0 analysts"},
		{"unsorted analysts", func(w *Warrant) { w.Analysts = []string{"mpcq://analyst/bob", "mpcq://analyst/alice"} }, "sorted"},
		{"duplicate analysts", func(w *Warrant) { w.Analysts = []string{"mpcq://analyst/bob", "mpcq://analyst/bob"} }, "sorted"},
		{"party as analyst", func(w *Warrant) { w.Analysts = []string{"mpcq://party/bank"} }, "not an analyst"},
		{"bad analyst URI", func(w *Warrant) { w.Analysts = []string{"mpcq://analyst/Bob"} }, "invalid name"},
		{"no tables", func(w *Warrant) { w.Scope.Tables = nil; w.Scope.Columns = nil }, "0 tables"},
		{"bad table", func(w *Warrant) { w.Scope.Tables = []string{"Bank"}; w.Scope.Columns = nil }, "table name"},
		{"unsorted tables", func(w *Warrant) { w.Scope.Tables = []string{"telecom", "bank"} }, "sorted"},
		{"column not table.column", func(w *Warrant) { w.Scope.Columns = []string{"balance"} }, "table.column"},
		{"column of other table", func(w *Warrant) { w.Scope.Columns = []string{"health.diagnosis"} }, "not among the tables"},
		{"unsorted columns", func(w *Warrant) { w.Scope.Columns = []string{"telecom.x", "bank.y"} }, "sorted"},
		{"zero not-before", func(w *Warrant) { w.NotBefore = 0 }, "not-before"},
		{"expiry before not-before", func(w *Warrant) { w.Expiry = w.NotBefore }, "not after"},
		{"too long", func(w *Warrant) { w.Expiry = w.NotBefore + int64(MaxValidity/time.Second) + 1 }, "longer than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := c.warrant(t)
			tc.mutate(&w)
			_, err := w.Encode()
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), w.ID) {
				t.Fatalf("Encode: %v, want ErrMalformed naming %s and %q", err, w.ID, tc.want)
			}
			if _, err := Sign(w, c.judge.key, c.judge.certPEM); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Sign: %v, want ErrMalformed", err)
			}
		})
	}
}

// TestParseRefusesNonCanonical feeds encodings that decode to a value but
// are not Encode's output.
func TestParseRefusesNonCanonical(t *testing.T) {
	c := newConsortium(t)
	w := c.warrant(t)
	good, err := w.Encode()
	if err != nil {
		t.Fatal(err)
	}
	// Encode fields by hand to make unsorted lists.
	raw := func(tables []string) []byte {
		var e encoder
		e.raw([]byte(Domain))
		e.raw(make([]byte, IDLen))
		e.str(w.Case)
		e.strs(w.Analysts)
		e.strs(tables)
		e.strs(nil)
		e.u8(0)
		e.u32(0)
		e.u64(0)
		e.i64(w.NotBefore)
		e.i64(w.Expiry)
		return e.b
	}
	if _, err := Parse(raw([]string{"bank", "telecom"})); err != nil {
		t.Fatalf("hand encoding of a valid warrant: %v", err)
	}
	exactAt := len(good) - 8 - 8 - 8 - 4 - 1
	cases := map[string][]byte{
		"empty":             nil,
		"domain only":       []byte(Domain),
		"other domain":      append([]byte(RevocationDomain), good[len(Domain):]...),
		"truncated":         good[:len(good)-1],
		"trailing byte":     append(bytes.Clone(good), 0),
		"exact flag 2":      func() []byte { b := bytes.Clone(good); b[exactAt] = 2; return b }(),
		"unsorted tables":   raw([]string{"telecom", "bank"}),
		"duplicate tables":  raw([]string{"bank", "bank"}),
		"huge count":        append([]byte(Domain+strings.Repeat("\x00", IDLen)), 0xff, 0xff, 0xff, 0xff),
		"case length > max": append([]byte(Domain+strings.Repeat("\x00", IDLen)), 0, 0, 0x10, 0),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse(b); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse: %v, want ErrMalformed", err)
			}
		})
	}
}

func TestSignedRoundTrip(t *testing.T) {
	c := newConsortium(t)
	w := c.warrant(t)
	s := c.sign(t, w)
	file := s.Marshal()
	if !bytes.HasPrefix(file, []byte("-----BEGIN MPCQ WARRANT-----\n")) {
		t.Fatalf("file starts %q", file[:40])
	}
	got, err := ParseSigned(file)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) || !bytes.Equal(got.Marshal(), file) {
		t.Fatal("ParseSigned(Marshal(s)) != s")
	}
	if h := Hash(s); h != sha256.Sum256(file) {
		t.Fatal("Hash is not the file's SHA-256")
	}
	v, err := Verify(got, c.caPEM, c.now)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(v.Warrant, w) || v.Authorizer.String() != c.judge.uri || v.Hash != Hash(s) {
		t.Fatalf("verified %+v", v)
	}
}

func TestParseSignedStrict(t *testing.T) {
	c := newConsortium(t)
	file := c.sign(t, c.warrant(t)).Marshal()
	blocks := bytes.SplitAfter(file, []byte("-----\n"))
	// blocks: BEGIN, body+END, BEGIN, body+END, BEGIN, body+END, "".
	cases := map[string][]byte{
		"empty":           nil,
		"leading text":    append([]byte("warrant:\n"), file...),
		"trailing text":   append(bytes.Clone(file), "x"...),
		"trailing \\n":    append(bytes.Clone(file), '\n'),
		"CRLF":            bytes.ReplaceAll(file, []byte("\n"), []byte("\r\n")),
		"header":          bytes.Replace(file, []byte("-----BEGIN MPCQ WARRANT-----\n"), []byte("-----BEGIN MPCQ WARRANT-----\nCase: x\n\n"), 1),
		"missing block":   bytes.Join(blocks[:4], nil),
		"reordered":       bytes.Join([][]byte{blocks[2], blocks[3], blocks[0], blocks[1], blocks[4], blocks[5]}, nil),
		"revocation file": SignedRevocation{Revocation: []byte("x"), Signature: make([]byte, 64), Certificate: []byte("y")}.Marshal(),
		"short signature": Signed{Warrant: mustParseSigned(t, file).Warrant, Signature: make([]byte, 63), Certificate: mustParseSigned(t, file).Certificate}.Marshal(),
		"bad certificate": Signed{Warrant: mustParseSigned(t, file).Warrant, Signature: make([]byte, 64), Certificate: []byte("not DER")}.Marshal(),
		"bad warrant":     Signed{Warrant: []byte("not a warrant"), Signature: make([]byte, 64), Certificate: mustParseSigned(t, file).Certificate}.Marshal(),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseSigned(b); !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseSigned: %v, want ErrMalformed", err)
			}
		})
	}
}

func mustParseSigned(t testing.TB, b []byte) Signed {
	t.Helper()
	s, err := ParseSigned(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSignRefuses(t *testing.T) {
	c := newConsortium(t)
	w := c.warrant(t)
	cases := []struct {
		name    string
		key     ed25519.PrivateKey
		certPEM []byte
	}{
		{"analyst certificate", c.alice.key, c.alice.certPEM},
		{"party certificate", c.party.key, c.party.certPEM},
		{"key of another authorizer", c.judge2.key, c.judge.certPEM},
		{"no certificate", c.judge.key, nil},
		{"no key", nil, c.judge.certPEM},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Sign(w, tc.key, tc.certPEM); !errors.Is(err, ErrCertificate) {
				t.Fatalf("Sign: %v, want ErrCertificate", err)
			}
		})
	}
	t.Run("outlives certificate", func(t *testing.T) {
		w := c.warrant(t)
		w.Expiry = c.now.Add(13 * time.Hour).Unix()
		if _, err := Sign(w, c.judge.key, c.judge.certPEM); !errors.Is(err, ErrCertificate) || !strings.Contains(err.Error(), "outlive") && !strings.Contains(err.Error(), "after the authorizer's certificate") {
			t.Fatalf("Sign: %v, want ErrCertificate", err)
		}
	})
}

func TestVerifyRefuses(t *testing.T) {
	c := newConsortium(t)
	w := c.warrant(t)
	good := c.sign(t, w)
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)

	later := c.warrant(t)
	later.NotBefore = c.now.Add(30 * time.Minute).Unix()
	tamperedCase := bytes.Clone(good.Warrant)
	i := bytes.Index(tamperedCase, []byte("fraud ring"))
	tamperedCase[i] = 'F'
	tamperedBudget := bytes.Clone(good.Warrant)
	tamperedBudget[len(tamperedBudget)-17]++ // last byte of EpsilonMilli

	cases := []struct {
		name string
		s    Signed
		ca   []byte
		now  time.Time
		want error
	}{
		{"missing", Signed{}, c.caPEM, c.now, ErrMalformed},
		{"expired", good, c.caPEM, time.Unix(w.Expiry, 0).Add(time.Second), ErrExpired},
		{"not yet valid", c.sign(t, later), c.caPEM, c.now, ErrNotYetValid},
		{"forged signature", Signed{Warrant: good.Warrant, Signature: ed25519.Sign(otherKey, good.Warrant), Certificate: good.Certificate}, c.caPEM, c.now, ErrBadSignature},
		{"no signature", Signed{Warrant: good.Warrant, Certificate: good.Certificate}, c.caPEM, c.now, ErrBadSignature},
		{"tampered case", Signed{Warrant: tamperedCase, Signature: good.Signature, Certificate: good.Certificate}, c.caPEM, c.now, ErrBadSignature},
		{"tampered budget", Signed{Warrant: tamperedBudget, Signature: good.Signature, Certificate: good.Certificate}, c.caPEM, c.now, ErrBadSignature},
		{"signed by an analyst", signAs(t, w, c.alice), c.caPEM, c.now, ErrCertificate},
		{"signed by a party", signAs(t, w, c.party), c.caPEM, c.now, ErrCertificate},
		{"authorizer of another CA", signAs(t, w, c.foreignJudge), c.caPEM, c.now, ErrCertificate},
		{"another authorizer's certificate", Signed{Warrant: good.Warrant, Signature: good.Signature, Certificate: signAs(t, w, c.judge2).Certificate}, c.caPEM, c.now, ErrBadSignature},
		{"certificate expired", good, c.caPEM, c.now.Add(13 * time.Hour), ErrCertificate},
		{"no CA", good, nil, c.now, ErrCertificate},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(tc.s, tc.ca, tc.now)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify: %v, want %v", err, tc.want)
			}
			if tc.want != ErrMalformed && !strings.Contains(err.Error(), "case \"CASE-2026/042") {
				t.Fatalf("error %q does not name the case", err)
			}
		})
	}
	// VerifySignature ignores only the window.
	if _, err := VerifySignature(good, c.caPEM, time.Unix(w.Expiry, 0).Add(time.Second)); err != nil {
		t.Fatalf("VerifySignature of an expired warrant: %v", err)
	}
	if _, err := VerifySignature(signAs(t, w, c.alice), c.caPEM, c.now); !errors.Is(err, ErrCertificate) {
		t.Fatalf("VerifySignature of an analyst's warrant: %v", err)
	}
}

func TestCheck(t *testing.T) {
	c := newConsortium(t)
	w := c.warrant(t)
	v, err := Verify(c.sign(t, w), c.caPEM, c.now)
	if err != nil {
		t.Fatal(err)
	}
	wideW := c.warrant(t)
	wideW.Scope.Columns, wideW.Scope.Exact = nil, true
	wide, err := Verify(c.sign(t, wideW), c.caPEM, c.now)
	if err != nil {
		t.Fatal(err)
	}
	none := func([32]byte) bool { return false }
	revokedSet := map[[32]byte]bool{v.Hash: true}
	isRevoked := func(h [32]byte) bool { return revokedSet[h] }

	cases := []struct {
		name    string
		v       Verified
		analyst string
		tables  []string
		columns []string
		exact   bool
		now     time.Time
		revoked func([32]byte) bool
		want    error
		msg     string
	}{
		{"ok", v, c.alice.uri, []string{"bank", "telecom"}, []string{"bank.balance", "telecom.flagged_calls_30d"}, false, c.now, none, nil, ""},
		{"ok nil revoked", v, "mpcq://analyst/bob", []string{"bank"}, nil, false, c.now, nil, nil, ""},
		{"ok at expiry", v, c.alice.uri, []string{"bank"}, nil, false, time.Unix(w.Expiry, 0), none, nil, ""},
		{"ok any column", wide, c.alice.uri, []string{"bank"}, []string{"bank.anything"}, true, c.now, none, nil, ""},
		{"another analyst", v, "mpcq://analyst/carol", []string{"bank"}, nil, false, c.now, none, ErrNotCovered, "mpcq://analyst/carol"},
		{"empty analyst", v, "", []string{"bank"}, nil, false, c.now, none, ErrNotCovered, "does not name"},
		{"revoked", v, c.alice.uri, []string{"bank"}, nil, false, c.now, isRevoked, ErrRevoked, "revoked"},
		{"expired", v, c.alice.uri, []string{"bank"}, nil, false, time.Unix(w.Expiry, 0).Add(time.Second), none, ErrExpired, "expired at"},
		{"not yet valid", v, c.alice.uri, []string{"bank"}, nil, false, time.Unix(w.NotBefore, 0).Add(-time.Second), none, ErrNotYetValid, "valid from"},
		{"table out of scope", v, c.alice.uri, []string{"bank", "health"}, nil, false, c.now, none, ErrScope, `["health"]`},
		{"column not listed", v, c.alice.uri, []string{"bank"}, []string{"bank.balance", "bank.salary"}, false, c.now, none, ErrScope, `["bank.salary"]`},
		{"column of table out of scope", wide, c.alice.uri, []string{"bank"}, []string{"health.diagnosis"}, false, c.now, none, ErrScope, "health.diagnosis"},
		{"column without table", wide, c.alice.uri, []string{"bank"}, []string{"balance"}, false, c.now, none, ErrScope, `"balance"`},
		{"exact not allowed", v, c.alice.uri, []string{"bank"}, nil, true, c.now, none, ErrScope, "exact"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.v.Check(tc.analyst, tc.tables, tc.columns, tc.exact, tc.now, tc.revoked)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), tc.v.Warrant.ID) {
				t.Fatalf("Check: %v, want %v mentioning %q and the warrant id", err, tc.want, tc.msg)
			}
		})
	}
}

func TestCheckUsage(t *testing.T) {
	c := newConsortium(t)
	v, err := Verify(c.sign(t, c.warrant(t)), c.caPEM, c.now) // 10 queries, ε 2.5
	if err != nil {
		t.Fatal(err)
	}
	unlimitedW := c.warrant(t)
	unlimitedW.Scope.MaxQueries, unlimitedW.Scope.EpsilonMilli = 0, 0
	unlimited, err := Verify(c.sign(t, unlimitedW), c.caPEM, c.now)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name        string
		v           Verified
		queries     uint32
		soFar, this uint64
		ok          bool
	}{
		{"first", v, 0, 0, 500, true},
		{"last query", v, 9, 2000, 500, true},
		{"eleventh query", v, 10, 0, 0, false},
		{"budget exceeded", v, 1, 2000, 501, false},
		{"overflow", v, 1, ^uint64(0), 2, false},
		{"unlimited", unlimited, ^uint32(0), ^uint64(0) - 1, 1, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.v.CheckUsage(tc.queries, tc.soFar, tc.this)
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrExhausted)) {
				t.Fatalf("CheckUsage: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestEpsilon(t *testing.T) {
	good := map[string]uint64{"0": 0, "2": 2000, "2.5": 2500, "0.125": 125, "10.05": 10050, "007": 7000}
	for s, want := range good {
		got, err := ParseEpsilon(s)
		if err != nil || got != want {
			t.Errorf("ParseEpsilon(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", ".5", "1.", "1.2345", "-1", "+1", "1e3", "1,5", " 1", "NaN", "99999999999999999999"} {
		if _, err := ParseEpsilon(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseEpsilon(%q): %v, want ErrMalformed", s, err)
		}
	}
	for m, want := range map[uint64]string{0: "0", 2500: "2.5", 125: "0.125", 3000: "3", 10050: "10.05"} {
		if got := FormatEpsilon(m); got != want {
			t.Errorf("FormatEpsilon(%d) = %q, want %q", m, got, want)
		}
	}
}
