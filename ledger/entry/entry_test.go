package entry

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func h(s string) Hash { return sha256.Sum256([]byte(s)) }

// samples returns one valid entry of every type, with every field set.
func samples() []Entry {
	return []Entry{
		Ceremony{ParamSet: "bgv-n14-t65537", PublicKeyHash: h("pk"), RelinKeyHash: h("rlk"), GaloisKeysHash: h("gks")},
		Epoch{EpochID: 7, UnionSize: 1234, UnionHash: h("union"), SetSizes: []PartySize{{"bank", 500}, {"telecom", 900}, {"utility", 40}}},
		Epoch{EpochID: 0},
		Query{QueryID: "q-1", QueryCommitment: h("text"), Analyst: "CN=Alice,O=Police", PurposeCommitment: h("purpose"),
			AnalystKeyHash: h("akey"), PlanHash: h("plan"), EpochID: 7, ParamSet: "bgv-n14-t65537", Time: 1_700_000_000},
		Result{QueryID: "q-1", CiphertextHash: h("ct"), Parties: []string{"bank", "telecom", "utility"}},
		Result{QueryID: "q-1", CiphertextHash: h("ct"), Parties: []string{"bank"}, PackedHash: h("packed")},
		Failure{QueryID: "q-2", Reason: "party timed out", Party: "bank"},
		Failure{Reason: "ceremony aborted"},
		Query{QueryID: "q-3", QueryCommitment: h("text"), Analyst: "mpcq://analyst/alice", PurposeCommitment: h("purpose"),
			AnalystKeyHash: h("akey"), PlanHash: h("plan"), EpochID: 7, ParamSet: "bgv-n14-t65537", Time: 1_700_000_000,
			EpsilonMilli: 1500, Collusion: 2, WarrantHash: h("warrant")},
		Query{QueryID: "q-4", QueryCommitment: h("text"), Analyst: "mpcq://analyst/alice", PurposeCommitment: h("purpose"),
			AnalystKeyHash: h("akey"), PlanHash: h("plan"), ParamSet: "p", WarrantHash: h("warrant")},
		Epoch{EpochID: 8, UnionSize: 1300, UnionHash: h("union2"), SetSizes: []PartySize{{"bank", 540}, {"telecom", 900}},
			Previous: 7, Changes: []PartyChange{{"bank", 50, 10}, {"telecom", 0, 0}}},
		Policy{Party: "bank", Version: 3, PolicyHash: h("{}"), Content: []byte("{}"), Signature: make([]byte, 64), Certificate: []byte("der")},
		Revocation{WarrantHash: h("warrant"), Signed: []byte("signed revocation")},
	}
}

// TestEpochIncrementalBlock: the incremental block is absent from a full
// alignment's EPOCH (so entries written before it parse unchanged),
// present exactly when Previous is set, and a block naming no previous
// epoch, or truncated, is refused.
func TestEpochIncrementalBlock(t *testing.T) {
	full := Epoch{EpochID: 7, UnionSize: 1234, UnionHash: h("union"), SetSizes: []PartySize{{"bank", 500}, {"telecom", 900}}}
	plain, err := Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	inc := full
	inc.EpochID, inc.Previous = 8, 7
	inc.Changes = []PartyChange{{"bank", 12, 5}, {"telecom", 0, 3}}
	b, err := Marshal(inc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b[2+8:len(plain)], plain[2+8:]) {
		t.Fatal("the incremental block changed the fields before it")
	}
	got, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, inc) {
		t.Fatalf("round trip: got %+v, want %+v", got, inc)
	}
	zeroPrev := append(bytes.Clone(plain), make([]byte, 8+2)...)
	if _, err := Parse(zeroPrev); !errors.Is(err, ErrMalformed) {
		t.Fatalf("a block with previous epoch 0 parsed (not canonical): %v", err)
	}
	if _, err := Parse(b[:len(b)-1]); !errors.Is(err, ErrMalformed) {
		t.Fatalf("a truncated block parsed: %v", err)
	}
	for _, c := range []struct {
		name string
		e    Epoch
	}{
		{"changes without previous", Epoch{EpochID: 8, SetSizes: []PartySize{{"a", 1}}, Changes: []PartyChange{{"a", 1, 0}}}},
		{"previous is itself", Epoch{EpochID: 8, Previous: 8, SetSizes: []PartySize{{"a", 1}}, Changes: []PartyChange{{"a", 1, 0}}}},
		{"missing party", Epoch{EpochID: 8, Previous: 7, SetSizes: []PartySize{{"a", 1}, {"b", 1}}, Changes: []PartyChange{{"a", 1, 0}}}},
		{"other party", Epoch{EpochID: 8, Previous: 7, SetSizes: []PartySize{{"a", 1}}, Changes: []PartyChange{{"b", 1, 0}}}},
		{"more added than held", Epoch{EpochID: 8, Previous: 7, SetSizes: []PartySize{{"a", 1}}, Changes: []PartyChange{{"a", 2, 0}}}},
	} {
		if _, err := Marshal(c.e); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Marshal = %v, want ErrInvalid", c.name, err)
		}
	}
}

func TestQueryPrivacyBlock(t *testing.T) {
	q := samples()[3].(Query)
	plain, err := Marshal(q)
	if err != nil {
		t.Fatal(err)
	}
	q.EpsilonMilli = 1000
	noisy, err := Marshal(q)
	if err != nil {
		t.Fatal(err)
	}
	if len(noisy) != len(plain)+8+2+HashSize {
		t.Fatalf("privacy block adds %d bytes, want %d", len(noisy)-len(plain), 8+2+HashSize)
	}
	zeroBlock := append(bytes.Clone(plain), make([]byte, 8+2+HashSize)...)
	if _, err := Parse(zeroBlock); !errors.Is(err, ErrMalformed) {
		t.Fatalf("an all-zero privacy block parsed (not canonical): %v", err)
	}
	if _, err := Parse(noisy[:len(noisy)-1]); !errors.Is(err, ErrMalformed) {
		t.Fatalf("a truncated privacy block parsed: %v", err)
	}
	q.EpsilonMilli, q.Collusion = 0, 1
	if _, err := Marshal(q); !errors.Is(err, ErrInvalid) {
		t.Fatalf("collusion tolerance on an exact query: %v", err)
	}
}

func TestPolicyEntryRejects(t *testing.T) {
	good := samples()[len(samples())-2].(Policy)
	for name, mut := range map[string]func(*Policy){
		"version 0":     func(p *Policy) { p.Version = 0 },
		"hash mismatch": func(p *Policy) { p.PolicyHash = h("other") },
		"no content":    func(p *Policy) { p.Content, p.PolicyHash = nil, h("") },
		"short sig":     func(p *Policy) { p.Signature = p.Signature[:63] },
		"no cert":       func(p *Policy) { p.Certificate = nil },
		"no party":      func(p *Policy) { p.Party = "" },
	} {
		p := good
		mut(&p)
		if _, err := Marshal(p); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Marshal error = %v, want ErrInvalid", name, err)
		}
	}
	if _, err := Marshal(Revocation{Signed: []byte("x")}); !errors.Is(err, ErrInvalid) {
		t.Errorf("revocation of a zero hash: %v", err)
	}
	if got := PolicySigned("bank", 3, h("p")); !bytes.HasPrefix(got, []byte(PolicyDomain)) {
		t.Errorf("PolicySigned lacks the domain: %q", got)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, e := range samples() {
		t.Run(e.Type().String(), func(t *testing.T) {
			b, err := Marshal(e)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if b[0] != Version || Type(b[1]) != e.Type() {
				t.Fatalf("header = %x, want version %d type %d", b[:2], Version, e.Type())
			}
			got, err := Parse(b)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, e) {
				t.Fatalf("Parse(Marshal(e)) = %#v, want %#v", got, e)
			}
			again, err := Marshal(got)
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("re-Marshal differs: %x vs %x (%v)", again, b, err)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	valid, err := Marshal(samples()[3]) // a QUERY
	if err != nil {
		t.Fatal(err)
	}
	withByte := func(i int, v byte) []byte {
		b := bytes.Clone(valid)
		b[i] = v
		return b
	}
	unsorted, err := Marshal(Result{QueryID: "q", Parties: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	// Hand-build a RESULT with parties in the wrong order from two valid encodings.
	ab, _ := Marshal(Result{QueryID: "q", Parties: []string{"a", "b"}})
	ba := bytes.Clone(ab)
	copy(ba[len(ba)-6:], []byte{0, 1, 'b', 0, 1, 'a'})
	dup := bytes.Clone(ab)
	copy(dup[len(dup)-6:], []byte{0, 1, 'a', 0, 1, 'a'})
	badUTF8 := bytes.Clone(unsorted)
	badUTF8[len(badUTF8)-1] = 0xff
	withPacked, err := Marshal(Result{QueryID: "q", Parties: []string{"a"}, PackedHash: h("packed")})
	if err != nil {
		t.Fatal(err)
	}
	zeroPacked := append(bytes.Clone(unsorted), make([]byte, HashSize)...)
	negTime := bytes.Clone(valid)
	negTime[len(negTime)-8] = 0x80

	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"header only", valid[:2], ErrMalformed},
		{"unknown version", withByte(0, 2), ErrVersion},
		{"version zero", withByte(0, 0), ErrVersion},
		{"unknown type", withByte(1, 99), ErrType},
		{"type zero", withByte(1, 0), ErrType},
		{"truncated", valid[:len(valid)-1], ErrMalformed},
		{"trailing byte", append(bytes.Clone(valid), 0), ErrMalformed},
		{"unsorted parties", ba, ErrInvalid},
		{"duplicate parties", dup, ErrInvalid},
		{"invalid utf8", badUTF8, ErrInvalid},
		{"negative time", negTime, ErrMalformed},
		{"too large", make([]byte, MaxSize+1), ErrTooLarge},
		{"result with a truncated packed hash", withPacked[:len(withPacked)-1], ErrMalformed},
		{"result with a byte after the packed hash", append(bytes.Clone(withPacked), 0), ErrMalformed},
		{"result with a zero packed hash (not canonical)", zeroPacked, ErrMalformed},
		{"huge list count", []byte{Version, byte(TypeResult), 0, 1, 'q', 37: 0xff, 38: 0xff}, ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Parse error = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestMarshalRejects(t *testing.T) {
	long := strings.Repeat("x", MaxIDLen+1)
	var many []string
	for i := range MaxParties {
		many = append(many, fmt.Sprintf("%03d", i)+strings.Repeat("p", MaxIDLen-3))
	}
	tests := []struct {
		name string
		in   Entry
		want error
	}{
		{"nil", nil, ErrInvalid},
		{"ceremony without param set", Ceremony{}, ErrInvalid},
		{"query without ID", Query{Analyst: "a", ParamSet: "p"}, ErrInvalid},
		{"query without analyst", Query{QueryID: "q", ParamSet: "p"}, ErrInvalid},
		{"query with long ID", Query{QueryID: long, Analyst: "a", ParamSet: "p"}, ErrInvalid},
		{"query with negative time", Query{QueryID: "q", Analyst: "a", ParamSet: "p", Time: -1}, ErrInvalid},
		{"result without parties", Result{QueryID: "q"}, ErrInvalid},
		{"result unsorted", Result{QueryID: "q", Parties: []string{"b", "a"}}, ErrInvalid},
		{"epoch duplicate party", Epoch{SetSizes: []PartySize{{"a", 1}, {"a", 2}}}, ErrInvalid},
		{"epoch empty party", Epoch{SetSizes: []PartySize{{"", 1}}}, ErrInvalid},
		{"failure without reason", Failure{QueryID: "q"}, ErrInvalid},
		{"failure bad utf8", Failure{Reason: "\xff"}, ErrInvalid},
		{"too large", Result{QueryID: "q", Parties: many}, ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Marshal(tc.in); !errors.Is(err, tc.want) {
				t.Fatalf("Marshal error = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestCommit(t *testing.T) {
	data := []byte("SELECT count(*) FROM bank")
	o, err := NewOpening(rand.Reader, data)
	if err != nil {
		t.Fatal(err)
	}
	c := o.Commitment()
	if c != Commit(o.Salt, data) {
		t.Fatal("Commitment differs from Commit")
	}
	if c == sha256.Sum256(data) {
		t.Fatal("commitment equals the unsalted hash")
	}
	o2, _ := NewOpening(rand.Reader, data)
	if o2.Salt == o.Salt || o2.Commitment() == c {
		t.Fatal("two openings of the same data share salt or commitment")
	}
	tests := []struct {
		name string
		o    Opening
		ok   bool
	}{
		{"genuine", o, true},
		{"other data", Opening{Salt: o.Salt, Data: []byte("SELECT 1")}, false},
		{"other salt", Opening{Salt: o2.Salt, Data: data}, false},
		{"empty data", Opening{Salt: o.Salt}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.Check(c)
			if tc.ok != (err == nil) {
				t.Fatalf("Check = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrOpening) {
				t.Fatalf("Check error %v does not wrap ErrOpening", err)
			}
		})
	}
}

func TestPurposeData(t *testing.T) {
	d, err := PurposeData("fraud investigation 2024-17", "Art. 6(1)(e) GDPR")
	if err != nil {
		t.Fatal(err)
	}
	p, l, err := ParsePurposeData(d)
	if err != nil || p != "fraud investigation 2024-17" || l != "Art. 6(1)(e) GDPR" {
		t.Fatalf("ParsePurposeData = %q, %q, %v", p, l, err)
	}
	// The split between purpose and basis is unambiguous.
	d2, _ := PurposeData("fraud investigation 2024-1", "7Art. 6(1)(e) GDPR")
	if bytes.Equal(d, d2) {
		t.Fatal("different (purpose, basis) pairs encode the same")
	}
	for _, bad := range [][]byte{nil, d[:len(d)-1], append(bytes.Clone(d), 0)} {
		if _, _, err := ParsePurposeData(bad); err == nil {
			t.Fatalf("ParsePurposeData(%x) accepted", bad)
		}
	}
	if _, err := PurposeData("", "x"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty purpose accepted: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, e := range samples() {
		b, err := Marshal(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{Version, byte(TypeEpoch)})
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Parse(data)
		if err != nil {
			return
		}
		// Whatever Parse accepts is canonical: it re-encodes to the same bytes.
		b, err := Marshal(e)
		if err != nil {
			t.Fatalf("Marshal of parsed entry failed: %v", err)
		}
		if !bytes.Equal(b, data) {
			t.Fatalf("non-canonical encoding accepted:\n in  %x\n out %x", data, b)
		}
	})
}

func FuzzParsePurposeData(f *testing.F) {
	d, _ := PurposeData("p", "l")
	f.Add(d)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, l, err := ParsePurposeData(data)
		if err != nil {
			return
		}
		b, err := PurposeData(p, l)
		if err != nil || !bytes.Equal(b, data) {
			t.Fatalf("round trip failed: %x -> %x (%v)", data, b, err)
		}
	})
}
