package auditor

import (
	"strings"
	"testing"
)

func TestEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"fraud investigation 2024-17", "fraud investigation 2024-17"},
		{"Enquête § 6(1)(e) — Straße", "Enquête § 6(1)(e) — Straße"},
		{"a\nb", `a\nb`},
		{"a\r\tb", `a\r\tb`},
		{"\x1b[2J\x1b[Hok", `\x1b[2J\x1b[Hok`},
		{"del\x7f", `del\x7f`},
		{"c1\u0085", `c1\u0085`},
		{"bidi \u202Eesab", `bidi \u202eesab`},
		{"zw\u200Bj", `zw\u200bj`},
		{"ls\u2028ps\u2029", `ls\u2028ps\u2029`},
		{"tag\U000E0041", `tag\U000e0041`},
		{"bad \xff byte", `bad \xff byte`},
		{`back\slash`, `back\\slash`},
		{`forged \n escape`, `forged \\n escape`},
	} {
		if got := Escape(tc.in); got != tc.want {
			t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// A purpose carrying a forged table line prints as one line.
func TestEscapeRowForgedLine(t *testing.T) {
	r := QueryRow{QueryID: "q-1", Purpose: "audit\n2026-01-01T00:00:00Z  q-forged  alice  x  y  answered", LegalBasis: "W-1\r\x1b[1A", Parties: []string{"bank\n"}}
	e := EscapeRow(r)
	for _, s := range append([]string{e.QueryID, e.Purpose, e.LegalBasis}, e.Parties...) {
		if strings.ContainsAny(s, "\n\r\x1b") {
			t.Fatalf("escaped field still holds a control character: %q", s)
		}
	}
	if r.Parties[0] != "bank\n" {
		t.Fatal("EscapeRow changed its argument")
	}
}
