package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type tlsFiles struct {
	CA string `json:"ca"`
}

type sample struct {
	Name     string   `json:"name"`
	LogLevel string   `json:"log_level"`
	Workers  int      `json:"workers"`
	TLS      tlsFiles `json:"tls"`
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		is       error    // wrapped sentinel, if any
		want     []string // substrings of the error
	}{
		{name: "ok", in: `{"name": "bank", "log_level": "debug"}`},
		{name: "unknown field", in: "{\n  \"name\": \"bank\",\n  \"log_levle\": \"debug\"\n}",
			is: ErrUnknownField, want: []string{"f.json:3:3:", `"log_levle"`}},
		{name: "unknown nested field", in: `{"tls": {"ca": "ca.pem", "cert": "c.pem"}}`,
			is: ErrUnknownField, want: []string{`"cert"`}},
		{name: "trailing data", in: `{"name": "bank"} {"name": "telecom"}`,
			is: ErrTrailingData, want: []string{"f.json:1:"}},
		{name: "trailing garbage", in: `{"name": "bank"} x`, is: ErrTrailingData},
		{name: "wrong type", in: "{\n\"workers\": \"four\"}", want: []string{"f.json:2:", `field "workers"`}},
		{name: "syntax", in: "{\n\"name\": \"bank\",\n}", want: []string{"f.json:3:"}},
		{name: "empty", in: ``, want: []string{"empty file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s sample
			err := Decode("f.json", []byte(tc.in), &s)
			if tc.is == nil && tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q does not wrap %q", err, tc.is)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestDecodeKeepsPresetFields(t *testing.T) {
	s := sample{LogLevel: "info", Workers: 3}
	if err := Decode("f.json", []byte(`{"name": "bank", "workers": 2}`), &s); err != nil {
		t.Fatal(err)
	}
	if s.LogLevel != "info" || s.Workers != 2 || s.Name != "bank" {
		t.Errorf("got %+v", s)
	}
}

func TestDecodeWrapsJSONErrors(t *testing.T) {
	var s sample
	err := Decode("f.json", []byte(`{"workers": "x"}`), &s)
	var typ *json.UnmarshalTypeError
	if !errors.As(err, &typ) {
		t.Fatalf("error %v does not wrap *json.UnmarshalTypeError", err)
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(path, []byte(`{"log_levle": "x"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var s sample
	err := Load(path, &s)
	if !errors.Is(err, ErrUnknownField) || !strings.Contains(err.Error(), path) {
		t.Errorf("got %v", err)
	}
	err = Load(filepath.Join(t.TempDir(), "missing.json"), &s)
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("got %v", err)
	}
}

func TestRequired(t *testing.T) {
	err := Required("tls.cert", "witness_key")
	if !errors.Is(err, ErrRequired) || err.Error() != `missing required field: "tls.cert", "witness_key"` {
		t.Errorf("got %q", err)
	}
}
