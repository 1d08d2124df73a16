package auditor

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Escape makes ledger and archive text safe to print on a terminal or in
// a table: control and format characters (Unicode Cc, Cf: newline, CR,
// tab, ESC, bidirectional overrides, zero-width characters), line and
// paragraph separators and invalid UTF-8 bytes become Go-style escapes
// (\n, \r, \t, \x1b, \u202e, \xff), and a backslash is doubled so that an
// escape in the output always means an escaped character. Anything else,
// accented letters included, is printed as is.
func Escape(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x80 && unsafeRune(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xffff && unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\U%08x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || r == '\\' || unsafeRune(r) {
			return true
		}
		i += n
	}
	return false
}

// unsafeRune reports a control, format or line/paragraph separator character.
func unsafeRune(r rune) bool { return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp) }

// EscapeRow returns r with every text field escaped for display.
func EscapeRow(r QueryRow) QueryRow {
	out := r
	out.QueryID, out.Time, out.Analyst = Escape(r.QueryID), Escape(r.Time), Escape(r.Analyst)
	out.Purpose, out.LegalBasis, out.Query = Escape(r.Purpose), Escape(r.LegalBasis), Escape(r.Query)
	out.Status, out.Reason = Escape(r.Status), Escape(r.Reason)
	out.Epsilon, out.Warrant, out.Case = Escape(r.Epsilon), Escape(r.Warrant), Escape(r.Case)
	out.Parties = make([]string, len(r.Parties))
	for i, p := range r.Parties {
		out.Parties[i] = Escape(p)
	}
	return out
}
