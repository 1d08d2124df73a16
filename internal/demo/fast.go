package demo

import (
	"strconv"
)

// Columns is a table in typed columns with an id index: the plaintext
// baseline of the benchmark, as a central database would hold the pooled
// data (loading is not timed, only the query).
type Columns struct {
	Index map[string]int32
	Ints  map[string][]int64
	Cats  map[string][]string
}

// ColumnarDB is the pooled data in typed columns.
type ColumnarDB map[string]*Columns

// Columnar converts the oracle's rows into typed columns.
func (db *DB) Columnar() ColumnarDB {
	out := ColumnarDB{}
	for t, rows := range db.Tables {
		c := &Columns{Index: make(map[string]int32, len(rows)), Ints: map[string][]int64{}, Cats: map[string][]string{}}
		i := int32(0)
		for id, r := range rows {
			c.Index[id] = i
			for col, v := range r {
				if col == "person_id" {
					continue
				}
				if n, err := strconv.ParseInt(v, 10, 64); err == nil {
					c.Ints[col] = append(c.Ints[col], n)
				} else {
					c.Cats[col] = append(c.Cats[col], v)
				}
			}
			i++
		}
		out[t] = c
	}
	return out
}

// Join calls f for every person at all the given tables with each table's
// row index.
func (db ColumnarDB) Join(tables []string, f func(rows []int32)) {
	rows := make([]int32, len(tables))
	for id, r0 := range db[tables[0]].Index {
		rows[0] = r0
		ok := true
		for i, t := range tables[1:] {
			r, present := db[t].Index[id]
			if !present {
				ok = false
				break
			}
			rows[i+1] = r
		}
		if ok {
			f(rows)
		}
	}
}
