package demo

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
)

// DB is the plaintext oracle's view of the pooled CSVs: what a central
// database would hold if the institutions pooled their raw data. It reads
// the files itself and shares no code with the planner or the parties.
type DB struct {
	Tables map[string]map[string]Row // table → person id → row
}

// Row is one record: column → raw CSV text.
type Row map[string]string

// Int returns an integer column's value.
func (r Row) Int(col string) int64 {
	v, err := strconv.ParseInt(r[col], 10, 64)
	if err != nil {
		panic(fmt.Sprintf("oracle: column %s value %q: %v", col, r[col], err))
	}
	return v
}

// LoadDB reads the three CSVs of a layout.
func LoadDB(l *Layout) (*DB, error) {
	db := &DB{Tables: map[string]map[string]Row{}}
	for _, t := range l.Parties {
		f, err := os.Open(l.DataCSV(t))
		if err != nil {
			return nil, err
		}
		r := csv.NewReader(f)
		header, err := r.Read()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", t, err)
		}
		rows := map[string]Row{}
		for {
			rec, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("%s: %w", t, err)
			}
			row := Row{}
			for i, h := range header {
				row[h] = rec[i]
			}
			rows[row["person_id"]] = row
		}
		f.Close()
		db.Tables[t] = rows
	}
	return db, nil
}

// Joined is one person's rows in the joined tables.
type Joined map[string]Row

// Aggregate evaluates COUNT(*) and SUMs over the inner join of tables on
// the person id, keeping people for which where holds.
func (db *DB) Aggregate(tables []string, where func(Joined) bool, outs []func(Joined) int64) []uint64 {
	res := make([]uint64, len(outs))
	for id, r0 := range db.Tables[tables[0]] {
		j := Joined{tables[0]: r0}
		ok := true
		for _, t := range tables[1:] {
			r, present := db.Tables[t][id]
			if !present {
				ok = false
				break
			}
			j[t] = r
		}
		if !ok || (where != nil && !where(j)) {
			continue
		}
		for i, f := range outs {
			res[i] += uint64(f(j))
		}
	}
	return res
}

// Count is the COUNT(*) output.
func Count(Joined) int64 { return 1 }

// Sum is a SUM(table.column) output.
func Sum(table, col string) func(Joined) int64 {
	return func(j Joined) int64 { return j[table].Int(col) }
}

// Strings renders oracle values as the analyst's result shows them.
func Strings(vals []uint64) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = strconv.FormatUint(v, 10)
	}
	return out
}
