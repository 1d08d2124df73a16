// Package source is where a party's rows come from: the person keys it
// aligns on, and at each query step the values and local conditions the
// step needs. CSV (rows loaded into memory at startup) and PostgreSQL
// (rows read at query time, see package pgsource) are its two
// implementations.
//
// It is not a query engine: a Source evaluates one table's local
// conditions (plan.Expr) row by row and returns per-row results; the
// step that turns them into slot vectors lives in package party. Errors
// name tables, columns and row positions (the row's index in Keys), never
// a person key.
package source

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/mpcq/mpcq/internal/table"
	"github.com/mpcq/mpcq/plan"
	"github.com/mpcq/mpcq/schema"
)

// ErrDatabase is wrapped by errors of a database source that are not
// about the data: the connection was lost, the server refused the query,
// the relation is missing. The query fails; the next one may work.
var ErrDatabase = errors.New("database")

// ErrRow is wrapped by errors about a row outside the declared schema
// (a value out of bounds, not in a category domain, NULL), a missing,
// empty or repeated person key. They name the row's key position, never
// the key.
var ErrRow = errors.New("row outside the declared schema")

// Keys is a snapshot of a table's person keys, in the source's row order:
// row i of every Read is IDs[i]. The party aligns on one snapshot and
// reads every query of the epoch by it.
type Keys struct {
	IDs []string

	once  sync.Once
	index map[string]int
}

// NewKeys wraps a list of distinct keys.
func NewKeys(ids []string) *Keys { return &Keys{IDs: ids} }

// Len is the number of keys.
func (k *Keys) Len() int { return len(k.IDs) }

// Position returns the row position of a key, if the snapshot holds it.
func (k *Keys) Position(id string) (int, bool) {
	k.once.Do(func() {
		k.index = make(map[string]int, len(k.IDs))
		for i, id := range k.IDs {
			k.index[id] = i
		}
	})
	i, ok := k.index[id]
	return i, ok
}

// Hash is a SHA-256 digest of the keys in order (each length-prefixed).
// The party stores it with an epoch so that, after a restart, it knows
// whether its source still holds the keys it aligned.
func (k *Keys) Hash() []byte {
	h := sha256.New()
	var n [8]byte
	for _, id := range k.IDs {
		binary.BigEndian.PutUint64(n[:], uint64(len(id)))
		h.Write(n[:])
		h.Write([]byte(id))
	}
	return h.Sum(nil)
}

// Request is what one query step needs from the party's table.
type Request struct {
	// Locals are the step's distinct local conditions (nil is true).
	Locals []plan.Expr
	// Columns are the data columns whose values the step needs (GROUP BY
	// and summed columns); a category column's value is its index.
	Columns []string
}

// Rows is a Request's answer over a Keys snapshot: per row position,
// whether each local condition holds (false for a key the source no
// longer holds) and each requested column's value (0 for such a key).
type Rows struct {
	Masks [][]bool
	Cols  map[string][]int64
}

// Source is a party's table.
type Source interface {
	// Table is the declared schema: the party's contract.
	Table() schema.Table
	// Keys reads the current person keys, checked non-empty and
	// distinct.
	Keys(ctx context.Context) (*Keys, error)
	// Read answers req for every row of keys (a snapshot Keys returned).
	Read(ctx context.Context, keys *Keys, req Request) (*Rows, error)
	// Close releases connections.
	Close()
}

// Memory is a table held in memory (loaded from CSV). Replace swaps in a
// reloaded table atomically: reads in flight finish on the table they
// started with, and a read over an older Keys snapshot (a query on the
// previous epoch) maps its keys to the current rows, with false and 0 for
// a key the table no longer holds, as a database source does.
type Memory struct {
	cur atomic.Pointer[memTable]
}

type memTable struct {
	data *table.Data
	keys *Keys
}

// FromData wraps a loaded table.
func FromData(d *table.Data) *Memory {
	m := &Memory{}
	m.cur.Store(&memTable{data: d, keys: NewKeys(d.IDs)})
	return m
}

// Replace swaps in a reloaded table, which must have the same declared
// schema (same name and columns).
func (m *Memory) Replace(d *table.Data) error {
	old := m.cur.Load().data.Table
	if d.Table.Name != old.Name || len(d.Table.Columns) != len(old.Columns) {
		return fmt.Errorf("table %s: a reload must keep the declared schema (got table %s with %d columns)", old.Name, d.Table.Name, len(d.Table.Columns))
	}
	m.cur.Store(&memTable{data: d, keys: NewKeys(d.IDs)})
	return nil
}

// Table implements Source.
func (m *Memory) Table() schema.Table { return m.cur.Load().data.Table }

// Keys implements Source; it returns the same snapshot until Replace.
func (m *Memory) Keys(context.Context) (*Keys, error) { return m.cur.Load().keys, nil }

// Close implements Source.
func (m *Memory) Close() {}

// Read implements Source.
func (m *Memory) Read(ctx context.Context, keys *Keys, req Request) (*Rows, error) {
	t := m.cur.Load()
	d := t.data
	n := d.Len()
	// row maps a position of keys to a row of d (-1: not held).
	row := func(i int) int { return i }
	if keys != nil && keys != t.keys {
		pos := make([]int, keys.Len())
		for i, id := range keys.IDs {
			if j, ok := t.keys.Position(id); ok {
				pos[i] = j
			} else {
				pos[i] = -1
			}
		}
		row, n = func(i int) int { return pos[i] }, keys.Len()
	}
	out := &Rows{Masks: make([][]bool, len(req.Locals)), Cols: make(map[string][]int64, len(req.Columns))}
	for _, c := range req.Columns {
		v, ok := d.Cols[c]
		if !ok {
			return nil, fmt.Errorf("table %s has no column %s", d.Table.Name, c)
		}
		if keys != nil && keys != t.keys {
			mapped := make([]int64, n)
			for i := range mapped {
				if j := row(i); j >= 0 {
					mapped[i] = v[j]
				}
			}
			v = mapped
		}
		out.Cols[c] = v
	}
	for i, e := range req.Locals {
		var mask []bool
		var err error
		if keys == nil || keys == t.keys {
			mask, err = EvalRows(e, n, func(col string, r int) int64 { return d.Cols[col][r] })
		} else {
			mask = make([]bool, n)
			for r := range mask {
				j := row(r)
				if j < 0 {
					continue // a key the table no longer holds: false
				}
				ok, eerr := plan.Eval(e, func(col string) int64 { return d.Cols[col][j] })
				if eerr != nil {
					err = fmt.Errorf("row %d (key position, not the id): %w", r, eerr)
					break
				}
				mask[r] = ok
			}
		}
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", d.Table.Name, err)
		}
		out.Masks[i] = mask
	}
	return out, ctx.Err()
}

// EvalRows evaluates a condition on rows 0..n-1 with plan.Eval; get
// returns a column's value on a row. The error wraps plan.ErrEval and
// names the row position.
func EvalRows(e plan.Expr, n int, get func(col string, row int) int64) ([]bool, error) {
	mask := make([]bool, n)
	for row := range mask {
		ok, err := plan.Eval(e, func(col string) int64 { return get(col, row) })
		if err != nil {
			return nil, fmt.Errorf("row %d (key position, not the id): %w", row, err)
		}
		mask[row] = ok
	}
	return mask, nil
}
