package gen_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mpcq/mpcq/internal/gen"
	"github.com/mpcq/mpcq/internal/table"
	"github.com/mpcq/mpcq/schema"
)

// generate returns the generated CSVs keyed by table name.
func generate(t testing.TB, people int, seed int64) (map[string][]byte, gen.Counts) {
	t.Helper()
	bufs := map[string]*bytes.Buffer{}
	var order []string
	counts, err := gen.Generate(people, seed, func(name string) (io.Writer, error) {
		order = append(order, name)
		bufs[name] = &bytes.Buffer{}
		return bufs[name], nil
	})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	var want []string
	for _, s := range gen.Schemas() {
		want = append(want, s.Name)
	}
	if !reflect.DeepEqual(order, want) {
		t.Fatalf("Generate opened %v, want %v", order, want)
	}
	out := map[string][]byte{}
	for k, b := range bufs {
		out[k] = b.Bytes()
	}
	return out, counts
}

// loaded is one generated population, loaded back with package table.
type loaded struct {
	people int
	data   map[string]*table.Data
	rows   map[string]map[string]int // table -> person id -> row
	counts gen.Counts
}

func load(t testing.TB, people int, seed int64) loaded {
	t.Helper()
	files, counts := generate(t, people, seed)
	l := loaded{people: people, data: map[string]*table.Data{}, rows: map[string]map[string]int{}, counts: counts}
	for _, s := range gen.Schemas() {
		d, err := table.Load(bytes.NewReader(files[s.Name]), s)
		if err != nil {
			t.Fatalf("generated %s table does not load (values out of bounds?): %v", s.Name, err)
		}
		l.data[s.Name] = d
		l.rows[s.Name] = map[string]int{}
		for i, id := range d.IDs {
			l.rows[s.Name][id] = i
		}
	}
	return l
}

func (l loaded) col(tbl, col string, row int) int64 { return l.data[tbl].Cols[col][row] }

const testPeople = 20_000

func TestSchemas(t *testing.T) {
	ss := gen.Schemas()
	if len(ss) != 3 {
		t.Fatalf("Schemas() returned %d tables, want 3", len(ss))
	}
	if err := gen.Consortium().Validate(); err != nil {
		t.Fatalf("schemas do not validate: %v", err)
	}
	for _, s := range ss {
		if s.Key != "person_id" {
			t.Errorf("table %s: key %q, want person_id", s.Name, s.Key)
		}
		c, ok := s.Column("district")
		if !ok || c.Kind != schema.KindCategory || len(c.Categories) != 10 || c.Categories[0] != "D01" || c.Categories[9] != "D10" {
			t.Errorf("table %s: district column %+v, want categories D01..D10", s.Name, c)
		}
	}
}

func TestDeterminism(t *testing.T) {
	a, _ := generate(t, 3000, 7)
	b, _ := generate(t, 3000, 7)
	c, _ := generate(t, 3000, 8)
	for _, s := range gen.Schemas() {
		t.Run(s.Name, func(t *testing.T) {
			if !bytes.Equal(a[s.Name], b[s.Name]) {
				t.Errorf("same seed gave different bytes")
			}
			if bytes.Equal(a[s.Name], c[s.Name]) {
				t.Errorf("different seeds gave identical bytes")
			}
		})
	}
}

func TestCountsMatchRows(t *testing.T) {
	files, counts := generate(t, 2000, 3)
	for _, s := range gen.Schemas() {
		if got := bytes.Count(files[s.Name], []byte("\n")) - 1; counts[s.Name] != got {
			t.Errorf("table %s: Counts says %d rows, file has %d", s.Name, counts[s.Name], got)
		}
	}
}

func TestInclusionRates(t *testing.T) {
	l := load(t, testPeople, 1)
	want := map[string]float64{gen.Telecom: gen.PTelecom, gen.Bank: gen.PBank, gen.Utility: gen.PUtility}
	for name, p := range want {
		t.Run(name, func(t *testing.T) {
			got := float64(l.data[name].Len()) / testPeople
			// Five binomial standard deviations plus the planted persons,
			// who are forced into the tables their pattern needs.
			tol := 5*math.Sqrt(p*(1-p)/testPeople) + float64(gen.MinersPerMille+gen.FraudPerMille+gen.TamperPerMille)/1000
			if math.Abs(got-p) > tol {
				t.Errorf("inclusion rate %.4f, want %.2f ± %.4f", got, p, tol)
			}
		})
	}
	union := map[string]bool{}
	for _, rows := range l.rows {
		for id := range rows {
			union[id] = true
		}
	}
	if len(union) > testPeople {
		t.Errorf("%d distinct persons across tables, more than the %d generated", len(union), testPeople)
	}
	// A person is at no institution with probability 0.05*0.3*0.2 = 0.003.
	if min := int(0.99 * testPeople); len(union) < min {
		t.Errorf("%d distinct persons across tables, want at least %d", len(union), min)
	}
}

func TestPersonIDs(t *testing.T) {
	l := load(t, testPeople, 2)
	for name, d := range l.data {
		if len(l.rows[name]) != d.Len() {
			t.Errorf("table %s: %d rows but %d distinct ids", name, d.Len(), len(l.rows[name]))
		}
		for _, id := range d.IDs {
			if !gen.ValidPersonID(id) {
				t.Fatalf("table %s: invalid person id %q", name, id)
			}
		}
	}
}

func TestDistrictsMostlyAgree(t *testing.T) {
	l := load(t, testPeople, 3)
	same, both := 0, 0
	for id, tr := range l.rows[gen.Telecom] {
		br, ok := l.rows[gen.Bank][id]
		if !ok {
			continue
		}
		both++
		if l.col(gen.Telecom, "district", tr) == l.col(gen.Bank, "district", br) {
			same++
		}
	}
	// Each side shows the home district with probability
	// q = PSameDistrict + (1-PSameDistrict)/10, else one of the nine
	// others uniformly; planted persons always agree.
	q := gen.PSameDistrict + (1-gen.PSameDistrict)/10
	want := q*q + (1-q)*(1-q)/9
	frac := float64(same) / float64(both)
	if math.Abs(frac-want) > 0.02 {
		t.Errorf("district agrees for %.3f of persons at telecom and bank, want %.3f ± 0.02", frac, want)
	}
}

func TestEveryIntColumnReachesItsMaximum(t *testing.T) {
	l := load(t, testPeople, 4)
	for _, s := range gen.Schemas() {
		for _, c := range s.Columns {
			if c.Kind != schema.KindInt {
				continue
			}
			t.Run(s.Name+"."+c.Name, func(t *testing.T) {
				n := 0
				for _, v := range l.data[s.Name].Cols[c.Name] {
					if v == c.Max {
						n++
					}
				}
				if n < gen.ExtremePersons {
					t.Errorf("%d rows at the declared maximum %d, want at least %d", n, c.Max, gen.ExtremePersons)
				}
			})
		}
	}
}

func TestPlantedPatterns(t *testing.T) {
	l := load(t, testPeople, 5)
	t.Run("mining cluster", func(t *testing.T) {
		n := 0
		byDistrict := map[int64]int{}
		for id, ur := range l.rows[gen.Utility] {
			br, ok := l.rows[gen.Bank][id]
			if !ok {
				continue
			}
			if l.col(gen.Utility, "kwh_30d", ur) >= 3*l.col(gen.Utility, "kwh_avg_12m", ur) &&
				l.col(gen.Bank, "cash_deposits_30d", br) >= 50_000 {
				n++
				byDistrict[l.col(gen.Utility, "district", ur)]++
			}
		}
		if want := testPeople * gen.MinersPerMille / 1000; n < want || n > 2*want {
			t.Errorf("%d persons with kwh_30d >= 3*kwh_avg_12m and cash deposits >= 50000, want %d to %d", n, want, 2*want)
		}
		top := byDistrict[2] + byDistrict[6] // D03 and D07
		if top*2 < n {
			t.Errorf("mining cluster not concentrated: %d of %d in D03 and D07 (%v)", top, n, byDistrict)
		}
	})
	t.Run("fraud ring", func(t *testing.T) {
		n := 0
		for id, tr := range l.rows[gen.Telecom] {
			br, ok := l.rows[gen.Bank][id]
			if !ok {
				continue
			}
			if f := l.col(gen.Telecom, "flagged_calls_30d", tr); f >= 30 && f <= 300 &&
				l.col(gen.Bank, "transfers_abroad_30d", br) >= 10 {
				n++
			}
		}
		if want := testPeople * gen.FraudPerMille / 1000; n < want || n > 2*want {
			t.Errorf("%d persons with 30..300 flagged calls and >= 10 transfers abroad, want %d to %d", n, want, 2*want)
		}
	})
	t.Run("meter tampering", func(t *testing.T) {
		n := 0
		for _, v := range l.data[gen.Utility].Cols["meter_tamper"] {
			n += int(v)
		}
		if want := testPeople * gen.TamperPerMille / 1000; n < want || n > 3*want {
			t.Errorf("%d tampered meters, want %d to %d", n, want, 3*want)
		}
	})
	t.Run("ordinary households", func(t *testing.T) {
		d := l.data[gen.Utility]
		near := 0
		for i := range d.Len() {
			avg, now := float64(d.Cols["kwh_avg_12m"][i]), float64(d.Cols["kwh_30d"][i])
			if math.Abs(now-avg) <= 0.5*avg {
				near++
			}
		}
		if frac := float64(near) / float64(d.Len()); frac < 0.95 {
			t.Errorf("only %.3f of households use within 50%% of their 12-month average", frac)
		}
		zero := 0
		for _, v := range l.data[gen.Telecom].Cols["flagged_calls_30d"] {
			if v == 0 {
				zero++
			}
		}
		if frac := float64(zero) / float64(l.data[gen.Telecom].Len()); frac < 0.8 {
			t.Errorf("only %.3f of telecom customers have no flagged calls", frac)
		}
	})
}

func TestSmallPopulations(t *testing.T) {
	for _, people := range []int{1, 2, 3, 4, 10, 199} {
		t.Run(fmt.Sprint(people), func(t *testing.T) {
			l := load(t, people, 9)
			for name, d := range l.data {
				if d.Len() > people {
					t.Errorf("table %s has %d rows for %d people", name, d.Len(), people)
				}
			}
		})
	}
}

func TestCheckChar(t *testing.T) {
	tests := []struct {
		id    string
		valid bool
	}{
		{"11010519491231002X", true}, // the GB 11643-1999 example
		{"440524188001010014", true},
		{"110105194912310021", false}, // wrong check character
		{"11010519491231002x", false}, // lower-case X
		{"11010519490231002X", false}, // February 31 (and a wrong check character)
		{"1101051949123100", false},
		{"", false},
		{"1101051949123100AX", false},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			if got := gen.ValidPersonID(tc.id); got != tc.valid {
				t.Errorf("ValidPersonID(%q) = %v, want %v", tc.id, got, tc.valid)
			}
		})
	}
	// A check-valid id whose date does not exist (Feb 30) is rejected.
	body := "11010519490230001"
	c, ok := gen.CheckChar(body)
	if !ok {
		t.Fatalf("CheckChar(%q) not ok", body)
	}
	if gen.ValidPersonID(body + string(c)) {
		t.Errorf("ValidPersonID accepted the impossible date in %s%c", body, c)
	}
}

func TestGenerateErrors(t *testing.T) {
	sink := func(string) (io.Writer, error) { return io.Discard, nil }
	errOpen := errors.New("disk full")
	tests := []struct {
		name   string
		people int
		open   func(string) (io.Writer, error)
		want   error
	}{
		{"zero people", 0, sink, gen.ErrConfig},
		{"negative people", -1, sink, gen.ErrConfig},
		{"too many people", gen.MaxPeople + 1, sink, gen.ErrConfig},
		{"no opener", 10, nil, gen.ErrConfig},
		{"open fails", 10, func(string) (io.Writer, error) { return nil, errOpen }, errOpen},
		{"write fails", 10, func(string) (io.Writer, error) { return failWriter{errOpen}, nil }, errOpen},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := gen.Generate(tc.people, 1, tc.open); !errors.Is(err, tc.want) {
				t.Errorf("Generate error = %v, want one wrapping %v", err, tc.want)
			}
		})
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

func TestWriteDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	files, err := gen.WriteDir(dir, 1500, 11)
	if err != nil {
		t.Fatalf("WriteDir: %v", err)
	}
	if len(files) != 6 {
		t.Fatalf("WriteDir reported %d files, want 6", len(files))
	}
	for _, f := range files {
		s, _ := gen.Consortium().Table(f.Table)
		if f.Schema {
			got, err := table.ReadSchema(f.Path)
			if err != nil || !reflect.DeepEqual(got, s) {
				t.Errorf("%s: ReadSchema = %+v, %v; want %+v", f.Path, got, err, s)
			}
			continue
		}
		d, err := table.LoadFile(f.Path, s)
		if err != nil {
			t.Errorf("LoadFile(%s): %v", f.Path, err)
		} else if d.Len() != f.Rows {
			t.Errorf("%s: %d rows, WriteDir reported %d", f.Path, d.Len(), f.Rows)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
	if _, err := gen.WriteDir("", 10, 1); !errors.Is(err, gen.ErrConfig) {
		t.Errorf("WriteDir with no directory: error %v, want one wrapping ErrConfig", err)
	}
	if _, err := gen.WriteDir(filepath.Join(dir, "telecom.csv"), 10, 1); err == nil {
		t.Errorf("WriteDir into a regular file succeeded")
	}
}

// TestMillion generates a million people, as the demo does.
func TestMillion(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: generates a million people")
	}
	counts, err := gen.Generate(1_000_000, 1, func(string) (io.Writer, error) { return io.Discard, nil })
	if err != nil {
		t.Fatal(err)
	}
	if counts[gen.Telecom] < 900_000 {
		t.Errorf("only %d telecom rows for a million people", counts[gen.Telecom])
	}
}

func BenchmarkGenerate(b *testing.B) {
	for b.Loop() {
		if _, err := gen.Generate(100_000, 1, func(string) (io.Writer, error) { return io.Discard, nil }); err != nil {
			b.Fatal(err)
		}
	}
}
