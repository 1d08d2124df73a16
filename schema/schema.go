// Package schema describes the consortium's tables: which column holds the
// person key and, for every other column, its type and declared bounds.
// It is pure data plus validation; loading rows lives in package table.
package schema

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
)

// Kind is the type of a data column.
type Kind string

const (
	// KindInt is an integer column with declared inclusive bounds Min..Max.
	KindInt Kind = "int"
	// KindCategory is a column whose values come from a declared domain;
	// a value is stored as its index in Categories.
	KindCategory Kind = "category"
)

// ErrInvalid is wrapped by every schema validation error.
var ErrInvalid = errors.New("invalid schema")

var identRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// Column is one typed data column of a table.
type Column struct {
	Name       string   `json:"name"`
	Kind       Kind     `json:"kind"`
	Min        int64    `json:"min,omitempty"`
	Max        int64    `json:"max,omitempty"`
	Categories []string `json:"categories,omitempty"`
}

// Table is one institution's table: a person key column plus data columns.
type Table struct {
	Name    string   `json:"name"`
	Key     string   `json:"key"`
	Columns []Column `json:"columns"`
}

// Consortium is the set of tables the parties serve, one per party.
type Consortium struct {
	Tables []Table `json:"tables"`
}

// Validate checks a column's name, kind and bounds.
func (c Column) Validate() error {
	if !identRE.MatchString(c.Name) {
		return fmt.Errorf("%w: column name %q must match %s", ErrInvalid, c.Name, identRE)
	}
	switch c.Kind {
	case KindInt:
		if c.Min < 0 {
			return fmt.Errorf("%w: column %s: min %d is negative; only non-negative integers are supported", ErrInvalid, c.Name, c.Min)
		}
		if c.Max < c.Min {
			return fmt.Errorf("%w: column %s: max %d < min %d", ErrInvalid, c.Name, c.Max, c.Min)
		}
		if len(c.Categories) != 0 {
			return fmt.Errorf("%w: column %s: an int column has no categories", ErrInvalid, c.Name)
		}
	case KindCategory:
		if len(c.Categories) == 0 {
			return fmt.Errorf("%w: column %s: a category column needs at least one category", ErrInvalid, c.Name)
		}
		seen := map[string]bool{}
		for _, v := range c.Categories {
			if v == "" || seen[v] {
				return fmt.Errorf("%w: column %s: category %q is empty or repeated", ErrInvalid, c.Name, v)
			}
			seen[v] = true
		}
	default:
		return fmt.Errorf("%w: column %s: kind %q is not %q or %q", ErrInvalid, c.Name, c.Kind, KindInt, KindCategory)
	}
	return nil
}

// Validate checks the table's name, key and columns.
func (t Table) Validate() error {
	if !identRE.MatchString(t.Name) {
		return fmt.Errorf("%w: table name %q must match %s", ErrInvalid, t.Name, identRE)
	}
	if !identRE.MatchString(t.Key) {
		return fmt.Errorf("%w: table %s: key column name %q must match %s", ErrInvalid, t.Name, t.Key, identRE)
	}
	seen := map[string]bool{t.Key: true}
	for _, c := range t.Columns {
		if err := c.Validate(); err != nil {
			return fmt.Errorf("table %s: %w", t.Name, err)
		}
		if seen[c.Name] {
			return fmt.Errorf("%w: table %s: column %s is declared twice", ErrInvalid, t.Name, c.Name)
		}
		seen[c.Name] = true
	}
	return nil
}

// Column returns the named data column.
func (t Table) Column(name string) (Column, bool) {
	for _, c := range t.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

// ColumnNames lists the data column names, sorted.
func (t Table) ColumnNames() []string {
	out := make([]string, 0, len(t.Columns))
	for _, c := range t.Columns {
		out = append(out, c.Name)
	}
	sort.Strings(out)
	return out
}

// CategoryIndex returns the index of value in a category column's domain.
func (c Column) CategoryIndex(value string) (int, bool) {
	for i, v := range c.Categories {
		if v == value {
			return i, true
		}
	}
	return 0, false
}

// Validate checks every table and that table names are unique.
func (cs Consortium) Validate() error {
	if len(cs.Tables) == 0 {
		return fmt.Errorf("%w: no tables", ErrInvalid)
	}
	seen := map[string]bool{}
	for _, t := range cs.Tables {
		if err := t.Validate(); err != nil {
			return err
		}
		if seen[t.Name] {
			return fmt.Errorf("%w: table %s is declared twice", ErrInvalid, t.Name)
		}
		seen[t.Name] = true
	}
	return nil
}

// Table returns the named table.
func (cs Consortium) Table(name string) (Table, bool) {
	for _, t := range cs.Tables {
		if t.Name == name {
			return t, true
		}
	}
	return Table{}, false
}

// TableNames lists the table names, sorted.
func (cs Consortium) TableNames() []string {
	out := make([]string, 0, len(cs.Tables))
	for _, t := range cs.Tables {
		out = append(out, t.Name)
	}
	sort.Strings(out)
	return out
}
