package entry

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/cryptobyte"
)

func TestCheckPlainText(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		pos      string // "" when accepted, else the position named
	}{
		{"plain", "fraud investigation 2024-17", ""},
		{"accents and symbols", "Enquête § 6(1)(e) — Straße €", ""},
		{"replacement character", "a\uFFFDb", ""},
		{"newline", "case 1\nTIME  QUERY", "character 7"},
		{"carriage return", "\rforged", "character 1"},
		{"tab", "a\tb", "character 2"},
		{"escape", "x\x1b[2Jy", "character 2"},
		{"delete", "ab\x7f", "character 3"},
		{"C1 control", "a\u0085b", "character 2"},
		{"bidi override", "legal \u202Eesab", "character 7"},
		{"zero width joiner", "a\u200Db", "character 2"},
		{"byte order mark", "\uFEFFx", "character 1"},
		{"line separator", "a\u2028b", "character 2"},
		{"paragraph separator", "é\u2029", "character 2"},
		{"invalid UTF-8", "a\xffb", "byte 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckPlainText("purpose", tc.in)
			if tc.pos == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "purpose") || !strings.Contains(err.Error(), tc.pos) {
				t.Fatalf("CheckPlainText(%q) = %v; want ErrInvalid naming purpose and %s", tc.in, err, tc.pos)
			}
		})
	}
}

// Every writer of a purpose commitment goes through PurposeData, which
// refuses control characters in either field.
func TestPurposeDataRefusesControlCharacters(t *testing.T) {
	forged := "ok\n2026-01-01T00:00:00Z  q-forged  someone  audit  WARRANT-1  answered"
	if _, err := PurposeData(forged, "basis"); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "purpose") {
		t.Fatalf("PurposeData accepted a forged table line in the purpose: %v", err)
	}
	if _, err := PurposeData("purpose", "basis\x1b[31m"); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "legal basis") {
		t.Fatalf("PurposeData accepted an escape in the legal basis: %v", err)
	}
}

// Purpose data committed before control characters were refused still
// decodes for readers of the history; ParsePurposeData stays strict.
func TestDecodePurposeDataLegacy(t *testing.T) {
	legacy := []byte{0, 6}
	legacy = append(legacy, "a\nb\x1b[c"...)
	legacy = append(legacy, 0, 1, 'L')
	p, l, err := DecodePurposeData(legacy)
	if err != nil || p != "a\nb\x1b[c" || l != "L" {
		t.Fatalf("DecodePurposeData = %q, %q, %v", p, l, err)
	}
	if _, _, err := ParsePurposeData(legacy); !errors.Is(err, ErrInvalid) {
		t.Fatalf("ParsePurposeData accepted control characters: %v", err)
	}
	if _, _, err := DecodePurposeData(legacy[:len(legacy)-1]); !errors.Is(err, ErrMalformed) {
		t.Fatalf("DecodePurposeData of truncated data = %v", err)
	}
}

func FuzzDecodePurposeData(f *testing.F) {
	d, _ := PurposeData("p", "l")
	f.Add(d)
	f.Add([]byte{0, 3, 'a', '\n', 'b', 0, 1, 'L'})
	f.Fuzz(func(t *testing.T, data []byte) {
		p, l, err := DecodePurposeData(data)
		if err != nil {
			return
		}
		b := cryptobyte.NewBuilder(nil)
		addString(b, p)
		addString(b, l)
		if out, err := b.Bytes(); err != nil || !bytes.Equal(out, data) {
			t.Fatalf("round trip failed: %x -> %x (%v)", data, out, err)
		}
		// Strict parsing agrees whenever the text is plain.
		if CheckPlainText("purpose", p) == nil && CheckPlainText("legal basis", l) == nil {
			if p2, l2, err := ParsePurposeData(data); err != nil || p2 != p || l2 != l {
				t.Fatalf("ParsePurposeData(%x) = %q, %q, %v", data, p2, l2, err)
			}
		}
	})
}
