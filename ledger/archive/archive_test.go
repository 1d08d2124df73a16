package archive

import (
	"crypto/rand"
	"errors"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/mpcq/mpcq/ledger/entry"
)

func record(t testing.TB, id, text, purpose, basis string) Record {
	t.Helper()
	qt, err := entry.NewOpening(rand.Reader, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	pd, err := entry.PurposeData(purpose, basis)
	if err != nil {
		t.Fatal(err)
	}
	po, err := entry.NewOpening(rand.Reader, pd)
	if err != nil {
		t.Fatal(err)
	}
	return Record{QueryID: id, QueryText: qt, Purpose: po}
}

func TestPutGetList(t *testing.T) {
	path := filepath.Join(t.TempDir(), "openings.db")
	a, err := Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	r1 := record(t, "q-2", "SELECT count(*) FROM bank", "fraud", "art. 6")
	r2 := record(t, "q-1", "SELECT sum(x) FROM telecom", "terrorism", "art. 9")
	for _, r := range []Record{r1, r2} {
		if err := a.Put(r.QueryID, r); err != nil {
			t.Fatalf("Put(%s): %v", r.QueryID, err)
		}
	}
	if err := a.Put(r1.QueryID, r1); err != nil {
		t.Fatalf("idempotent Put: %v", err)
	}
	other := record(t, "q-2", "SELECT count(*) FROM bank", "fraud", "art. 6") // fresh salts
	if err := a.Put("q-2", other); !errors.Is(err, ErrExists) {
		t.Fatalf("overwriting Put: %v, want ErrExists", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	a, err = Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	got, err := a.Get("q-2")
	if err != nil || !reflect.DeepEqual(got, r1) {
		t.Fatalf("Get after reopen = %+v, %v; want %+v", got, err, r1)
	}
	ids, err := a.List()
	if err != nil || !reflect.DeepEqual(ids, []string{"q-1", "q-2"}) {
		t.Fatalf("List = %v, %v", ids, err)
	}
	if _, err := a.Get("q-3"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get missing: %v", err)
	}
}

func TestPutRejects(t *testing.T) {
	a, err := Open(filepath.Join(t.TempDir(), "o.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	good := record(t, "q", "text", "p", "b")
	badPurpose := good
	badPurpose.Purpose.Data = []byte("not purpose data")
	tests := []struct {
		name string
		key  string
		r    Record
	}{
		{"key mismatch", "other", good},
		{"empty ID", "", Record{Purpose: good.Purpose}},
		{"bad purpose data", "q", badPurpose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := a.Put(tc.key, tc.r); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Put = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestRecordCheck(t *testing.T) {
	r := record(t, "q", "SELECT 1", "p", "b")
	q := entry.Query{QueryID: "q", QueryCommitment: r.QueryText.Commitment(), PurposeCommitment: r.Purpose.Commitment()}
	if err := r.Check(q); err != nil {
		t.Fatalf("genuine record: %v", err)
	}
	tests := []struct {
		name string
		mut  func(*Record)
		want error
	}{
		{"other text", func(r *Record) { r.QueryText.Data = []byte("SELECT 2") }, entry.ErrOpening},
		{"other purpose salt", func(r *Record) { r.Purpose.Salt[0] ^= 1 }, entry.ErrOpening},
		{"other query", func(r *Record) { r.QueryID = "z" }, ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := record(t, "q", "SELECT 1", "p", "b")
			c.QueryText, c.Purpose = r.QueryText, r.Purpose
			c.QueryText.Data = append([]byte(nil), r.QueryText.Data...)
			tc.mut(&c)
			if err := c.Check(q); !errors.Is(err, tc.want) {
				t.Fatalf("Check = %v, want %v", err, tc.want)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	raw, err := encode(record(f, "q", "SELECT 1", "p", "b"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decode(data)
		if err != nil {
			return
		}
		// Whatever decodes is a valid record that re-encodes and decodes the same.
		again, err := encode(r)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := decode(again)
		if err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("re-decode: %+v vs %+v (%v)", r, r2, err)
		}
	})
}

// A record's warrant bytes survive the store; a record without one decodes
// with a nil warrant, as records written before the field existed.
func TestWarrantRoundTrip(t *testing.T) {
	a, err := Open(filepath.Join(t.TempDir(), "openings.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	with := record(t, "q-w", "SELECT count(*) FROM bank", "fraud", "art. 6")
	with.Warrant = []byte("-----BEGIN MPCQ WARRANT-----\n")
	without := record(t, "q-n", "SELECT count(*) FROM bank", "fraud", "art. 6")
	for _, r := range []Record{with, without} {
		if err := a.Put(r.QueryID, r); err != nil {
			t.Fatal(err)
		}
		got, err := a.Get(r.QueryID)
		if err != nil || !reflect.DeepEqual(got, r) {
			t.Fatalf("Get(%s) = %+v, %v; want %+v", r.QueryID, got, err, r)
		}
	}
}
