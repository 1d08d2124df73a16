// Package table holds one party's table in memory, column by column, and
// loads it from CSV, checking every value against the declared schema.
//
// It is the CSV data source and the schema file format. It is not a query
// engine, it does not know other parties' tables, and it never logs: errors
// name lines, columns and values, but never the person key of a row.
package table

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/mpcq/mpcq/internal/atomicfile"
	"github.com/mpcq/mpcq/schema"
)

// ErrHeader is wrapped by errors about the CSV header row: missing, empty,
// repeated, unexpected or undeclared column names.
var ErrHeader = errors.New("bad CSV header")

// ErrMalformed is wrapped by errors about the CSV syntax itself, such as a
// bare quote or a row with the wrong number of fields.
var ErrMalformed = errors.New("malformed CSV")

// ErrValue is wrapped by errors about a data value that does not parse or
// lies outside its column's declared bounds or domain.
var ErrValue = errors.New("invalid value")

// ErrKey is wrapped by errors about person keys: empty, padded with spaces,
// or repeated.
var ErrKey = errors.New("invalid person key")

// maxQuoted is the longest value quoted verbatim in an error message.
const maxQuoted = 40

// maxListed is the most category values listed in an error message.
const maxListed = 12

// Data is a table held in memory, column by column. Row i is IDs[i] with
// Cols[c][i] for every data column c. A category column stores each value
// as its index in the column's Categories.
type Data struct {
	Table schema.Table
	IDs   []string
	Cols  map[string][]int64
}

// Len returns the number of rows.
func (d *Data) Len() int { return len(d.IDs) }

// Load reads a CSV table with a header row. The header must name the key
// column and every declared column, each exactly once, and nothing else;
// columns may come in any order. Every value is parsed and checked against
// its column's declared bounds or domain, and every person key must be
// non-empty and unique.
func Load(r io.Reader, t schema.Table) (*Data, error) {
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("cannot load table: %w", err)
	}
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: table %s: the input is empty; expected a header row naming %s", ErrHeader, t.Name, expectedHeader(t))
	}
	if err != nil {
		return nil, fmt.Errorf("%w: table %s: %v", ErrMalformed, t.Name, err)
	}
	keyPos, colPos, err := matchHeader(header, t)
	if err != nil {
		return nil, err
	}
	parsers := make([]columnParser, len(t.Columns))
	for i, c := range t.Columns {
		parsers[i] = newColumnParser(c, colPos[i])
	}

	d := &Data{Table: t, Cols: make(map[string][]int64, len(t.Columns))}
	seen := make(map[string]struct{}) // one map operation per row
	var lines []int                   // line of each row, for error messages
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: table %s: %v", ErrMalformed, t.Name, err)
		}
		line, _ := cr.FieldPos(0)
		id := rec[keyPos]
		if id == "" {
			return nil, fmt.Errorf("%w: table %s, line %d, column %s: the person key is empty", ErrKey, t.Name, line, t.Key)
		}
		if id[0] == ' ' || id[len(id)-1] == ' ' || id[0] == '\t' || id[len(id)-1] == '\t' {
			return nil, fmt.Errorf("%w: table %s, line %d, column %s: the person key has leading or trailing spaces; remove them", ErrKey, t.Name, line, t.Key)
		}
		id = strings.Clone(id) // keep only the key, not the whole record, alive
		n := len(seen)
		seen[id] = struct{}{}
		if len(seen) == n {
			first := lines[slices.Index(d.IDs, id)]
			return nil, fmt.Errorf("%w: table %s: duplicate person key at lines %d and %d; each person must appear once", ErrKey, t.Name, first, line)
		}
		lines = append(lines, line)
		for i := range parsers {
			p := &parsers[i]
			v, err := p.parse(rec[p.pos])
			if err != nil {
				return nil, fmt.Errorf("%w: table %s, line %d, column %s: %v", ErrValue, t.Name, line, p.col.Name, err)
			}
			p.out = append(p.out, v)
		}
		d.IDs = append(d.IDs, id)
	}
	for i := range parsers {
		d.Cols[parsers[i].col.Name] = parsers[i].out
	}
	return d, nil
}

// LoadFile loads the CSV file at path; see Load.
func LoadFile(path string, t schema.Table) (*Data, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot load table %s: %w", t.Name, err)
	}
	defer f.Close()
	d, err := Load(bufio.NewReaderSize(f, 1<<20), t)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// WriteCSV writes the table as CSV in the form Load reads: a header row with
// the key column then the declared columns in order, then one row per
// person in row order.
func (d *Data) WriteCSV(w io.Writer) error {
	t := d.Table
	cols := make([][]int64, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = d.Cols[c.Name]
		if len(cols[i]) != len(d.IDs) {
			return fmt.Errorf("%w: table %s: column %s has %d values for %d rows", ErrValue, t.Name, c.Name, len(cols[i]), len(d.IDs))
		}
	}
	cw := csv.NewWriter(w)
	rec := make([]string, 1+len(t.Columns))
	rec[0] = t.Key
	for i, c := range t.Columns {
		rec[1+i] = c.Name
	}
	if err := cw.Write(rec); err != nil {
		return fmt.Errorf("table %s: %w", t.Name, err)
	}
	for row, id := range d.IDs {
		rec[0] = id
		for i, c := range t.Columns {
			v := cols[i][row]
			if c.Kind == schema.KindCategory {
				if v < 0 || v >= int64(len(c.Categories)) {
					return fmt.Errorf("%w: table %s, row %d, column %s: category index %d is outside 0..%d", ErrValue, t.Name, row, c.Name, v, len(c.Categories)-1)
				}
				rec[1+i] = c.Categories[v]
			} else {
				rec[1+i] = strconv.FormatInt(v, 10)
			}
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("table %s: %w", t.Name, err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("table %s: %w", t.Name, err)
	}
	return nil
}

// ReadSchema reads a table schema written by WriteSchema and validates it.
// Unknown fields and trailing data are errors.
func ReadSchema(path string) (schema.Table, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return schema.Table{}, fmt.Errorf("cannot read schema: %w", err)
	}
	t, err := DecodeSchema(b)
	if err != nil {
		return schema.Table{}, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// DecodeSchema decodes one table schema from JSON and validates it.
// Unknown fields and trailing data are errors.
func DecodeSchema(b []byte) (schema.Table, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var t schema.Table
	if err := dec.Decode(&t); err != nil {
		return schema.Table{}, fmt.Errorf("%w: not a table schema in JSON: %v", schema.ErrInvalid, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return schema.Table{}, fmt.Errorf("%w: unexpected data after the table schema's JSON object", schema.ErrInvalid)
	}
	if err := t.Validate(); err != nil {
		return schema.Table{}, err
	}
	return t, nil
}

// WriteSchema validates t and writes it to path as indented JSON, replacing
// any existing file only once the new one is complete.
func WriteSchema(path string, t schema.Table) error {
	if err := t.Validate(); err != nil {
		return fmt.Errorf("cannot write schema to %s: %w", path, err)
	}
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return fmt.Errorf("cannot encode schema of table %s: %w", t.Name, err)
	}
	b = append(b, '\n')
	if err := atomicfile.Write(path, b, 0o644); err != nil {
		return fmt.Errorf("cannot write schema: %w", err)
	}
	return nil
}

// matchHeader finds the key column's and every declared column's position
// in the header row.
func matchHeader(header []string, t schema.Table) (keyPos int, colPos []int, err error) {
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\uFEFF") // byte order mark from spreadsheet exports
	}
	pos := make(map[string]int, len(header))
	for i, h := range header {
		if h == "" {
			return 0, nil, fmt.Errorf("%w: table %s: header field %d is empty; expected %s", ErrHeader, t.Name, i+1, expectedHeader(t))
		}
		if j, dup := pos[h]; dup {
			return 0, nil, fmt.Errorf("%w: table %s: header names column %s twice (fields %d and %d)", ErrHeader, t.Name, quote(h), j+1, i+1)
		}
		pos[h] = i
	}
	var missing, extra []string
	declared := map[string]bool{t.Key: true}
	keyPos, ok := pos[t.Key]
	if !ok {
		missing = append(missing, t.Key+" (the person key)")
	}
	colPos = make([]int, len(t.Columns))
	for i, c := range t.Columns {
		declared[c.Name] = true
		p, ok := pos[c.Name]
		if !ok {
			missing = append(missing, c.Name)
		}
		colPos[i] = p
	}
	for _, h := range header {
		if !declared[h] {
			extra = append(extra, quote(h))
		}
	}
	var problems []string
	if len(missing) > 0 {
		problems = append(problems, "missing column(s) "+strings.Join(missing, ", "))
	}
	if len(extra) > 0 {
		problems = append(problems, "undeclared column(s) "+strings.Join(extra, ", ")+" (declare them in the schema or remove them from the file)")
	}
	if len(problems) > 0 {
		return 0, nil, fmt.Errorf("%w: table %s: %s; expected %s", ErrHeader, t.Name, strings.Join(problems, "; "), expectedHeader(t))
	}
	return keyPos, colPos, nil
}

// expectedHeader describes the header a table's CSV must have.
func expectedHeader(t schema.Table) string {
	names := make([]string, 0, 1+len(t.Columns))
	names = append(names, t.Key)
	for _, c := range t.Columns {
		names = append(names, c.Name)
	}
	return "the columns " + strings.Join(names, ",") + " (in any order)"
}

// columnParser parses one declared column's values.
type columnParser struct {
	col  schema.Column
	pos  int
	cats map[string]int64
	out  []int64
}

func newColumnParser(c schema.Column, pos int) columnParser {
	p := columnParser{col: c, pos: pos}
	if c.Kind == schema.KindCategory {
		p.cats = make(map[string]int64, len(c.Categories))
		for i, v := range c.Categories {
			p.cats[v] = int64(i)
		}
	}
	return p
}

// parse converts one value; the error says what was expected.
func (p *columnParser) parse(s string) (int64, error) {
	c := &p.col
	if c.Kind == schema.KindCategory {
		if v, ok := p.cats[s]; ok {
			return v, nil
		}
		return 0, fmt.Errorf("value %s is not in the declared domain (expected one of %s)", quote(s), listCategories(c.Categories))
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			if strings.HasPrefix(s, "-") {
				return 0, fmt.Errorf("value %s is below the declared minimum %d", quote(s), c.Min)
			}
			return 0, fmt.Errorf("value %s is above the declared maximum %d", quote(s), c.Max)
		}
		return 0, fmt.Errorf("value %s is not an integer (expected a whole number from %d to %d)", quote(s), c.Min, c.Max)
	}
	if v < c.Min {
		return 0, fmt.Errorf("value %s is below the declared minimum %d", quote(s), c.Min)
	}
	if v > c.Max {
		return 0, fmt.Errorf("value %s is above the declared maximum %d", quote(s), c.Max)
	}
	return v, nil
}

// quote quotes a value for an error message, shortening long ones.
func quote(s string) string {
	if len(s) > maxQuoted {
		return strconv.Quote(s[:maxQuoted]) + fmt.Sprintf("... (%d bytes)", len(s))
	}
	return strconv.Quote(s)
}

// listCategories lists a domain for an error message, shortening long ones.
func listCategories(cats []string) string {
	if len(cats) <= maxListed {
		return strings.Join(cats, ", ")
	}
	return strings.Join(cats[:maxListed], ", ") + fmt.Sprintf(", ... (%d values)", len(cats))
}
