package config_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/mpcq/mpcq/coordinator"
	"github.com/mpcq/mpcq/internal/config"
	"github.com/mpcq/mpcq/party"
)

// daemons are the config types docs/config.md describes, with the
// section of each.
var daemons = []struct {
	section  string
	example  string
	typ      reflect.Type
	defaults any
	empty    func() error // Validate of an empty config with its defaults
	load     func(path string) error
}{
	{"## partyd", "../../deploy/party.example.json", reflect.TypeOf(party.Config{}), party.Defaults(),
		func() error { c := party.Config{}.WithDefaults(); return c.Validate() },
		func(p string) error { _, err := party.LoadConfig(p); return err }},
	{"## coordinatord", "../../deploy/coordinator.example.json", reflect.TypeOf(coordinator.Config{}), coordinator.Defaults(),
		func() error { c := coordinator.Config{}.WithDefaults(); return c.Validate() },
		func(p string) error { _, err := coordinator.LoadConfig(p); return err }},
}

// field is one documented key: its path (tls.ca, parties[].name) and its
// default in the Defaults value.
type field struct {
	path string
	def  reflect.Value
}

func fields(prefix string, t reflect.Type, v reflect.Value) []field {
	var out []field
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || tag == "-" {
			continue
		}
		if tag == "" {
			tag = f.Name
		}
		path := prefix + tag
		var fv reflect.Value
		if v.IsValid() {
			fv = v.Field(i)
		}
		out = append(out, field{path, fv})
		switch {
		case f.Type.Kind() == reflect.Struct:
			out = append(out, fields(path+".", f.Type, fv)...)
		case f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Struct:
			out = append(out, fields(path+".", f.Type.Elem(), reflect.Value{})...)
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
			out = append(out, fields(path+"[].", f.Type.Elem(), reflect.Value{})...)
		}
	}
	return out
}

// rows parses the section's table: field → its cells.
func rows(t *testing.T, doc, section string) map[string][]string {
	t.Helper()
	_, rest, ok := strings.Cut(doc, "\n"+section+"\n")
	if !ok {
		t.Fatalf("docs/config.md has no %q section", section)
	}
	if next := strings.Index(rest, "\n## "); next >= 0 {
		rest = rest[:next]
	}
	out := map[string][]string{}
	for _, line := range strings.Split(rest, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		out[strings.Trim(cells[0], "`")] = cells
	}
	return out
}

func TestReferenceDocumentsEveryField(t *testing.T) {
	b, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, d := range daemons {
		t.Run(strings.TrimPrefix(d.section, "## "), func(t *testing.T) {
			table := rows(t, doc, d.section)
			known := map[string]bool{}
			for _, f := range fields("", d.typ, reflect.ValueOf(d.defaults)) {
				known[f.path] = true
				cells, ok := table[f.path]
				if !ok {
					t.Errorf("field %s is not in docs/config.md's %s table", f.path, d.section)
					continue
				}
				if len(cells) != 5 {
					t.Errorf("%s: %d cells, want 5 (field, type, default, required, what it does)", f.path, len(cells))
					continue
				}
				if f.def.IsValid() && !f.def.IsZero() {
					if want := fmt.Sprint(f.def.Interface()); cells[2] != want {
						t.Errorf("%s: documented default %q, Defaults() has %q", f.path, cells[2], want)
					}
				}
			}
			for name := range table {
				if !known[name] {
					t.Errorf("docs/config.md documents %s, which the config type does not have", name)
				}
			}
			// The fields marked required are exactly those Validate
			// names as missing in an empty config.
			err := d.empty()
			if !errors.Is(err, config.ErrRequired) {
				t.Fatalf("empty config: %v", err)
			}
			var docReq, valReq []string
			for name, cells := range table {
				// "tls" is required through its three files; "yes,
				// each" (parties[].name) is checked per party.
				if len(cells) == 5 && cells[3] == "yes" && name != "tls" {
					docReq = append(docReq, name)
				}
			}
			_, list, _ := strings.Cut(err.Error(), config.ErrRequired.Error()+": ")
			for _, q := range strings.Split(list, ", ") {
				valReq = append(valReq, strings.Trim(q, `"`))
			}
			sort.Strings(docReq)
			sort.Strings(valReq)
			if !reflect.DeepEqual(docReq, valReq) {
				t.Errorf("required in docs/config.md: %v; Validate requires: %v", docReq, valReq)
			}
		})
	}
}

// TestExamplesAreComplete loads deploy/*.example.json with the daemons'
// loaders and checks that they name every top-level field.
func TestExamplesAreComplete(t *testing.T) {
	for _, d := range daemons {
		t.Run(d.example, func(t *testing.T) {
			if err := d.load(d.example); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(d.example)
			if err != nil {
				t.Fatal(err)
			}
			var keys map[string]json.RawMessage
			if err := json.Unmarshal(b, &keys); err != nil {
				t.Fatal(err)
			}
			for _, f := range fields("", d.typ, reflect.Value{}) {
				if strings.ContainsAny(f.path, ".[") {
					continue
				}
				if _, ok := keys[f.path]; !ok {
					t.Errorf("%s does not show %s", d.example, f.path)
				}
			}
		})
	}
}
