package gen

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/mpcq/mpcq/internal/table"
)

// File describes one file written by WriteDir.
type File struct {
	Path    string // where it was written
	Table   string // the table it belongs to
	Schema  bool   // true for <table>.schema.json, false for <table>.csv
	Rows    int    // data rows (CSV files only)
	Columns int    // declared data columns, not counting the key
}

// WriteDir generates the tables (see Generate) into dir, creating it if
// needed: <table>.csv and <table>.schema.json for each table of Schemas.
// Each file appears under its final name only once complete, so a failed
// run never leaves a truncated CSV behind under the final name.
func WriteDir(dir string, people int, seed int64) ([]File, error) {
	if dir == "" {
		return nil, fmt.Errorf("%w: no output directory given", ErrConfig)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create output directory: %w", err)
	}
	type pending struct {
		f    *os.File
		dest string
	}
	var open []pending
	cleanup := func() {
		for _, p := range open {
			p.f.Close()
			os.Remove(p.f.Name())
		}
	}
	counts, err := Generate(people, seed, func(name string) (io.Writer, error) {
		dest := filepath.Join(dir, name+".csv")
		f, err := os.CreateTemp(dir, "."+name+".csv.tmp*")
		if err != nil {
			return nil, err
		}
		open = append(open, pending{f, dest})
		return f, nil
	})
	if err != nil {
		cleanup()
		return nil, err
	}
	for i, p := range open {
		err := errors.Join(p.f.Chmod(0o644), p.f.Close())
		if err == nil {
			err = os.Rename(p.f.Name(), p.dest)
		}
		if err != nil {
			for _, q := range open[i:] {
				q.f.Close()
				os.Remove(q.f.Name())
			}
			return nil, fmt.Errorf("cannot write %s: %w", p.dest, err)
		}
	}

	var files []File
	for _, t := range Schemas() {
		files = append(files, File{Path: filepath.Join(dir, t.Name+".csv"), Table: t.Name, Rows: counts[t.Name], Columns: len(t.Columns)})
	}
	for _, t := range Schemas() {
		path := filepath.Join(dir, t.Name+".schema.json")
		if err := table.WriteSchema(path, t); err != nil {
			return files, err
		}
		files = append(files, File{Path: path, Table: t.Name, Schema: true, Columns: len(t.Columns)})
	}
	return files, nil
}
