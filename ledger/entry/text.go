package entry

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// CheckPlainText refuses free text that could change how it is displayed
// around it: a control or format character (Unicode categories Cc and Cf:
// newline, carriage return, tab, ESC, bidirectional overrides, zero-width
// characters) or a line or paragraph separator (Zl, Zp). The error wraps
// ErrInvalid and names the field and the 1-based position of the first
// such character, counted in characters (runes).
//
// PurposeData applies it to the purpose and the legal basis, which every
// auditor later reads on a terminal.
func CheckPlainText(what, v string) error {
	pos := 0
	for i, r := range v {
		pos++
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(v[i:]); n == 1 {
				return fmt.Errorf("%w: %s is not valid UTF-8 (byte %d)", ErrInvalid, what, i)
			}
		}
		if isUnsafeRune(r) {
			return fmt.Errorf("%w: %s contains the control character %U at character %d; "+
				"use plain text on one line (no newlines, tabs, escapes or direction overrides)", ErrInvalid, what, r, pos)
		}
	}
	return nil
}

// isUnsafeRune reports a control, format or line/paragraph separator character.
func isUnsafeRune(r rune) bool {
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp)
}
