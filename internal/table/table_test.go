package table_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mpcq/mpcq/internal/gen"
	"github.com/mpcq/mpcq/internal/table"
	"github.com/mpcq/mpcq/schema"
)

// small is a test table: a category column and two bounded int columns.
func small() schema.Table {
	return schema.Table{Name: "bank", Key: "person_id", Columns: []schema.Column{
		{Name: "district", Kind: schema.KindCategory, Categories: []string{"D01", "D02", "D03"}},
		{Name: "balance", Kind: schema.KindInt, Min: 0, Max: 1000},
		{Name: "accounts", Kind: schema.KindInt, Min: 1, Max: 5},
	}}
}

func TestLoadGood(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		ids    []string
		cols   map[string][]int64
		inform string
	}{
		{
			name: "declared order",
			in:   "person_id,district,balance,accounts\na,D01,0,1\nb,D03,1000,5\n",
			ids:  []string{"a", "b"},
			cols: map[string][]int64{"district": {0, 2}, "balance": {0, 1000}, "accounts": {1, 5}},
		},
		{
			name: "other order, CRLF, quotes, BOM, no final newline",
			in:   "\uFEFFaccounts,balance,person_id,district\r\n3,\"17\",\"x,y\",D02\r\n2,+5,z,D01",
			ids:  []string{"x,y", "z"},
			cols: map[string][]int64{"district": {1, 0}, "balance": {17, 5}, "accounts": {3, 2}},
		},
		{
			name: "header only",
			in:   "person_id,district,balance,accounts\n",
			ids:  nil,
			cols: map[string][]int64{"district": nil, "balance": nil, "accounts": nil},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := table.Load(strings.NewReader(tc.in), small())
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if !slices.Equal(d.IDs, tc.ids) || d.Len() != len(tc.ids) {
				t.Errorf("IDs = %q, want %q", d.IDs, tc.ids)
			}
			if len(d.Cols) != len(tc.cols) {
				t.Errorf("got %d columns, want %d", len(d.Cols), len(tc.cols))
			}
			for c, want := range tc.cols {
				if !slices.Equal(d.Cols[c], want) {
					t.Errorf("column %s = %v, want %v", c, d.Cols[c], want)
				}
			}
			if !reflect.DeepEqual(d.Table, small()) {
				t.Errorf("Table = %+v, want the schema passed in", d.Table)
			}
		})
	}
}

func TestLoadBad(t *testing.T) {
	const header = "person_id,district,balance,accounts\n"
	tests := []struct {
		name    string
		in      string
		want    error
		has     []string // substrings the message must contain
		hasNot  []string // substrings it must not contain
		tableFn func() schema.Table
	}{
		{name: "empty input", in: "", want: table.ErrHeader, has: []string{"empty", "person_id,district,balance,accounts"}},
		{name: "missing column", in: "person_id,district,balance\na,D01,3\n", want: table.ErrHeader, has: []string{"missing column(s) accounts"}},
		{name: "missing key", in: "district,balance,accounts\nD01,3,1\n", want: table.ErrHeader, has: []string{"person_id (the person key)"}},
		{name: "extra column", in: "person_id,district,balance,accounts,name,age\na,D01,3,1,x,4\n", want: table.ErrHeader, has: []string{`undeclared column(s) "name", "age"`}},
		{name: "missing and extra", in: "person_id,district,balance,acounts\na,D01,3,1\n", want: table.ErrHeader, has: []string{"missing column(s) accounts", `undeclared column(s) "acounts"`}},
		{name: "repeated column", in: "person_id,district,balance,accounts,balance\na,D01,3,1,3\n", want: table.ErrHeader, has: []string{`"balance" twice (fields 3 and 5)`}},
		{name: "empty header field", in: "person_id,,district,balance,accounts\na,,D01,3,1\n", want: table.ErrHeader, has: []string{"field 2 is empty"}},
		{name: "wrong field count", in: header + "a,D01,3,1\nb,D01,3\n", want: table.ErrMalformed, has: []string{"line 3", "wrong number of fields"}},
		{name: "bare quote", in: header + "a,D01,3\"x,1\n", want: table.ErrMalformed, has: []string{"line 2"}},
		{name: "below minimum", in: header + "a,D01,3,1\nb,D01,-5,1\n", want: table.ErrValue, has: []string{`line 3, column balance: value "-5" is below the declared minimum 0`}},
		{name: "below nonzero minimum", in: header + "a,D01,3,0\n", want: table.ErrValue, has: []string{`line 2, column accounts: value "0" is below the declared minimum 1`}},
		{name: "above maximum", in: header + "a,D01,1001,1\n", want: table.ErrValue, has: []string{`line 2, column balance: value "1001" is above the declared maximum 1000`}},
		{name: "beyond int64", in: header + "a,D01,99999999999999999999,1\n", want: table.ErrValue, has: []string{"above the declared maximum 1000"}},
		{name: "beyond int64 negative", in: header + "a,D01,-99999999999999999999,1\n", want: table.ErrValue, has: []string{"below the declared minimum 0"}},
		{name: "not an integer", in: header + "a,D01,1.5,1\n", want: table.ErrValue, has: []string{`value "1.5" is not an integer (expected a whole number from 0 to 1000)`}},
		{name: "spaces around integer", in: header + "a,D01, 7,1\n", want: table.ErrValue, has: []string{`value " 7" is not an integer`}},
		{name: "empty integer", in: header + "a,D01,,1\n", want: table.ErrValue, has: []string{`column balance: value "" is not an integer`}},
		{name: "unknown category", in: header + "a,D04,1,1\n", want: table.ErrValue, has: []string{`line 2, column district: value "D04" is not in the declared domain (expected one of D01, D02, D03)`}},
		{name: "long value shortened", in: header + "a,D01," + strings.Repeat("9", 500) + ",1\n", want: table.ErrValue, has: []string{"(500 bytes)"}, hasNot: []string{strings.Repeat("9", 100)}},
		{name: "multi-line quoted field keeps line numbers", in: header + "\"a\nb\",D01,1,1\nc,D01,1,9\n", want: table.ErrValue, has: []string{"line 4, column accounts"}},
		{name: "empty key", in: header + "a,D01,1,1\n,D01,1,1\n", want: table.ErrKey, has: []string{"line 3, column person_id: the person key is empty"}},
		{name: "padded key", in: header + "110105194912310021 ,D01,1,1\n", want: table.ErrKey, has: []string{"line 2", "leading or trailing spaces"}, hasNot: []string{"110105194912310021"}},
		{
			name:   "duplicate key",
			in:     header + "110105194912310021,D01,1,1\nsomeone,D02,2,2\n110105194912310021,D03,3,3\n",
			want:   table.ErrKey,
			has:    []string{"duplicate person key at lines 2 and 4"},
			hasNot: []string{"110105194912310021"},
		},
		{
			name:    "invalid schema",
			in:      header,
			want:    schema.ErrInvalid,
			tableFn: func() schema.Table { s := small(); s.Columns[1].Max = -1; return s },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := small()
			if tc.tableFn != nil {
				s = tc.tableFn()
			}
			d, err := table.Load(strings.NewReader(tc.in), s)
			if err == nil {
				t.Fatalf("Load succeeded with %d rows, want an error wrapping %v", d.Len(), tc.want)
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("error %q does not wrap %q", err, tc.want)
			}
			for _, h := range tc.has {
				if !strings.Contains(err.Error(), h) {
					t.Errorf("error %q does not contain %q", err, h)
				}
			}
			for _, h := range tc.hasNot {
				if strings.Contains(err.Error(), h) {
					t.Errorf("error %q contains %q", err, h)
				}
			}
		})
	}
}

// generated returns the synthetic tables' CSV bytes, keyed by table name.
func generated(t testing.TB, people int, seed int64) map[string]*bytes.Buffer {
	t.Helper()
	out := map[string]*bytes.Buffer{}
	_, err := gen.Generate(people, seed, func(name string) (io.Writer, error) {
		out[name] = &bytes.Buffer{}
		return out[name], nil
	})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return out
}

func TestRoundTripGenerated(t *testing.T) {
	files := generated(t, 3000, 42)
	for _, s := range gen.Schemas() {
		t.Run(s.Name, func(t *testing.T) {
			orig := files[s.Name].Bytes()
			d, err := table.Load(bytes.NewReader(orig), s)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if want := bytes.Count(orig, []byte("\n")) - 1; d.Len() != want {
				t.Errorf("loaded %d rows, file has %d", d.Len(), want)
			}
			var buf bytes.Buffer
			if err := d.WriteCSV(&buf); err != nil {
				t.Fatalf("WriteCSV: %v", err)
			}
			if !bytes.Equal(buf.Bytes(), orig) {
				t.Errorf("WriteCSV output differs from the generated file")
			}
			d2, err := table.Load(&buf, s)
			if err != nil {
				t.Fatalf("Load after WriteCSV: %v", err)
			}
			if !reflect.DeepEqual(d, d2) {
				t.Errorf("Load(WriteCSV(d)) != d")
			}
		})
	}
}

func TestWriteCSVRejectsInconsistentData(t *testing.T) {
	tests := []struct {
		name string
		d    table.Data
	}{
		{"short column", table.Data{Table: small(), IDs: []string{"a"}, Cols: map[string][]int64{"district": {0}, "balance": {}, "accounts": {1}}}},
		{"category index out of range", table.Data{Table: small(), IDs: []string{"a"}, Cols: map[string][]int64{"district": {3}, "balance": {1}, "accounts": {1}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.d.WriteCSV(io.Discard); !errors.Is(err, table.ErrValue) {
				t.Errorf("WriteCSV error = %v, want one wrapping ErrValue", err)
			}
		})
	}
}

func TestSchemaFiles(t *testing.T) {
	dir := t.TempDir()
	for _, s := range gen.Schemas() {
		t.Run(s.Name, func(t *testing.T) {
			path := filepath.Join(dir, s.Name+".schema.json")
			if err := table.WriteSchema(path, s); err != nil {
				t.Fatalf("WriteSchema: %v", err)
			}
			got, err := table.ReadSchema(path)
			if err != nil {
				t.Fatalf("ReadSchema: %v", err)
			}
			if !reflect.DeepEqual(got, s) {
				t.Errorf("ReadSchema = %+v, want %+v", got, s)
			}
			b, _ := os.ReadFile(path)
			if !bytes.Contains(b, []byte("\n  \"name\"")) {
				t.Errorf("schema file is not indented JSON:\n%s", b)
			}
		})
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(gen.Schemas()) {
		t.Errorf("directory holds %d entries, want %d (temporary files left?)", len(entries), len(gen.Schemas()))
	}

	bad := small()
	bad.Key = "Bad Key"
	if err := table.WriteSchema(filepath.Join(dir, "bad.json"), bad); !errors.Is(err, schema.ErrInvalid) {
		t.Errorf("WriteSchema of an invalid table: error %v, want one wrapping schema.ErrInvalid", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "bad.json")); err == nil {
		t.Errorf("WriteSchema wrote an invalid table")
	}
	if _, err := table.ReadSchema(filepath.Join(dir, "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadSchema of a missing file: error %v, want one wrapping os.ErrNotExist", err)
	}
}

func TestDecodeSchemaBad(t *testing.T) {
	tests := []struct{ name, in, has string }{
		{"empty", ``, "not a table schema"},
		{"not an object", `[1,2]`, "not a table schema"},
		{"unknown field", `{"name":"t","key":"k","columns":[],"extra":1}`, "unknown field"},
		{"trailing data", `{"name":"t","key":"k","columns":[]} {}`, "after the table schema"},
		{"invalid name", `{"name":"T!","key":"k","columns":[]}`, "table name"},
		{"bad bounds", `{"name":"t","key":"k","columns":[{"name":"a","kind":"int","min":5,"max":1}]}`, "max 1 < min 5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := table.DecodeSchema([]byte(tc.in))
			if !errors.Is(err, schema.ErrInvalid) {
				t.Fatalf("DecodeSchema error = %v, want one wrapping schema.ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.has) {
				t.Errorf("error %q does not contain %q", err, tc.has)
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bank.csv")
	if err := os.WriteFile(path, []byte("person_id,district,balance,accounts\na,D02,9,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := table.LoadFile(path, small())
	if err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	if d.Len() != 1 || d.Cols["balance"][0] != 9 {
		t.Errorf("LoadFile read %+v", d)
	}
	if err := os.WriteFile(path, []byte("person_id,district,balance,accounts\na,D02,9,7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := table.LoadFile(path, small()); !errors.Is(err, table.ErrValue) || !strings.Contains(err.Error(), path) {
		t.Errorf("LoadFile error = %v, want one naming the file and wrapping ErrValue", err)
	}
	if _, err := table.LoadFile(filepath.Join(dir, "none.csv"), small()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadFile of a missing file: error %v, want one wrapping os.ErrNotExist", err)
	}
}

// TestLoadMillion loads a generated table of about a million rows.
func TestLoadMillion(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: generates and loads a million-row table")
	}
	s := gen.Schemas()[0]
	var buf bytes.Buffer
	_, err := gen.Generate(1_100_000, 1, func(name string) (io.Writer, error) {
		if name == s.Name {
			return &buf, nil
		}
		return io.Discard, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	d, err := table.Load(&buf, s)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded %d rows × %d columns in %v", d.Len(), 1+len(s.Columns), time.Since(start))
	if d.Len() < 1_000_000 {
		t.Errorf("loaded %d rows, want at least a million", d.Len())
	}
}

func BenchmarkLoad(b *testing.B) {
	s := gen.Schemas()[0]
	files := generated(b, 100_000, 1)
	data := files[s.Name].Bytes()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := table.Load(bytes.NewReader(data), s); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte("person_id,district,balance,accounts\na,D01,0,1\nb,D03,1000,5\n"))
	f.Add([]byte("accounts,balance,person_id,district\r\n3,\"17\",\"x,y\",D02\r\n"))
	f.Add([]byte("person_id,district,balance,accounts\na,D01,0,1\na,D01,0,1\n"))
	f.Add([]byte("person_id,district,balance,accounts\n\"a\nb\",D01,-1,1\n"))
	f.Add([]byte("\uFEFFperson_id,district\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, in []byte) {
		s := small()
		d, err := table.Load(bytes.NewReader(in), s)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, id := range d.IDs {
			if id == "" || seen[id] {
				t.Fatalf("accepted an empty or repeated key")
			}
			seen[id] = true
		}
		for _, c := range s.Columns {
			vals := d.Cols[c.Name]
			if len(vals) != d.Len() {
				t.Fatalf("column %s has %d values for %d rows", c.Name, len(vals), d.Len())
			}
			lo, hi := c.Min, c.Max
			if c.Kind == schema.KindCategory {
				lo, hi = 0, int64(len(c.Categories)-1)
			}
			for _, v := range vals {
				if v < lo || v > hi {
					t.Fatalf("column %s: accepted %d outside %d..%d", c.Name, v, lo, hi)
				}
			}
		}
		var buf bytes.Buffer
		if err := d.WriteCSV(&buf); err != nil {
			t.Fatalf("WriteCSV of loaded data: %v", err)
		}
		d2, err := table.Load(&buf, s)
		if err != nil {
			t.Fatalf("Load(WriteCSV(d)): %v", err)
		}
		if !reflect.DeepEqual(d, d2) {
			t.Fatalf("Load(WriteCSV(d)) != d")
		}
	})
}

func FuzzDecodeSchema(f *testing.F) {
	for _, s := range gen.Schemas() {
		dir := f.TempDir()
		path := filepath.Join(dir, "s.json")
		if err := table.WriteSchema(path, s); err != nil {
			f.Fatal(err)
		}
		b, _ := os.ReadFile(path)
		f.Add(b)
	}
	f.Add([]byte(`{"name":"t","key":"k","columns":[{"name":"a","kind":"int","min":5,"max":1}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := table.DecodeSchema(in)
		if err != nil {
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("DecodeSchema returned an invalid schema: %v", err)
		}
	})
}
