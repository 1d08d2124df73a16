// Package config is the one strict loader of the daemons' JSON config
// files: a key the target type does not have, a value of the wrong type or
// anything after the JSON object is an error naming the file, the field
// and the line. It knows nothing of any daemon's fields: defaults and
// validation belong to each daemon's Config type.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// ErrUnknownField is wrapped when the file has a key the config type does
// not have (a typo such as "log_levle" would otherwise be ignored).
var ErrUnknownField = errors.New("unknown field")

// ErrTrailingData is wrapped when something follows the JSON object.
var ErrTrailingData = errors.New("data after the JSON object")

// ErrRequired is wrapped by Required.
var ErrRequired = errors.New("missing required field")

// Load reads the JSON object in the file at path into into, which must be
// a pointer to a struct (fields already set, e.g. defaults, are kept when
// the file does not name them).
func Load(path string, into any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err // *fs.PathError names the file
	}
	return Decode(path, b, into)
}

// Decode is Load on bytes already read; name is used in errors.
func Decode(name string, b []byte, into any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return decodeError(name, b, dec.InputOffset(), err)
	}
	if tok, err := dec.Token(); err != io.EOF {
		line, col := position(b, dec.InputOffset())
		if err != nil {
			return fmt.Errorf("%s:%d:%d: %w: %w", name, line, col, ErrTrailingData, err)
		}
		return fmt.Errorf("%s:%d:%d: %w: %v", name, line, col, ErrTrailingData, tok)
	}
	return nil
}

func decodeError(name string, b []byte, offset int64, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		offset = syn.Offset
	case errors.As(err, &typ):
		line, col := position(b, typ.Offset)
		return fmt.Errorf("%s:%d:%d: field %q: %w", name, line, col, typ.Field, err)
	case errors.Is(err, io.EOF):
		return fmt.Errorf("%s: empty file: %w", name, io.ErrUnexpectedEOF)
	}
	// encoding/json reports an unknown key only as text.
	const unknown = `json: unknown field "`
	if msg := err.Error(); strings.HasPrefix(msg, unknown) {
		field := strings.TrimSuffix(strings.TrimPrefix(msg, unknown), `"`)
		// The decoder's offset is past the whole object by now: point
		// at the key itself.
		if loc := regexp.MustCompile(regexp.QuoteMeta(strconv.Quote(field)) + `\s*:`).FindIndex(b); loc != nil {
			offset = int64(loc[0])
		}
		line, col := position(b, offset)
		return fmt.Errorf("%s:%d:%d: %w %q", name, line, col, ErrUnknownField, field)
	}
	line, col := position(b, offset)
	return fmt.Errorf("%s:%d:%d: %w", name, line, col, err)
}

// position turns a byte offset into a 1-based line and column.
func position(b []byte, offset int64) (line, col int) {
	if offset > int64(len(b)) {
		offset = int64(len(b))
	}
	if offset < 0 {
		offset = 0
	}
	before := b[:offset]
	line = 1 + bytes.Count(before, []byte("\n"))
	col = 1 + len(before) - (bytes.LastIndexByte(before, '\n') + 1)
	return line, col
}

// Required is the error for missing required fields, named by their JSON
// keys (e.g. "tls.cert").
func Required(fields ...string) error {
	q := make([]string, len(fields))
	for i, f := range fields {
		q[i] = fmt.Sprintf("%q", f)
	}
	return fmt.Errorf("%w: %s", ErrRequired, strings.Join(q, ", "))
}

// Field is a required field: its JSON key and whether the config sets it.
type Field struct {
	Name string
	Set  bool
}

// CheckRequired returns Required for every field that is not set, or nil.
func CheckRequired(fields ...Field) error {
	var missing []string
	for _, f := range fields {
		if !f.Set {
			missing = append(missing, f.Name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return Required(missing...)
}
