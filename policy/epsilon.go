package policy

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// ParseEpsilon parses a decimal ε such as "1", "0.5" or "0.125" exactly
// into thousandths: digits, optionally a point and one to three decimals.
// Signs, exponents, more than three decimals and values above
// MaxEpsilonMilli/1000 are refused.
func ParseEpsilon(s string) (uint64, error) {
	return parseEpsilon(json.Number(s))
}

// parseEpsilon is ParseEpsilon on a JSON number literal; "" (absent) is 0.
func parseEpsilon(n json.Number) (uint64, error) {
	s := string(n)
	if s == "" {
		return 0, nil
	}
	whole, frac, dot := strings.Cut(s, ".")
	switch {
	case strings.ContainsAny(s, "eE"):
		return 0, fmt.Errorf("ε %s: write it as a plain decimal such as 0.001, not with an exponent", s)
	case strings.HasPrefix(s, "-"):
		return 0, fmt.Errorf("ε %s is negative", s)
	case whole == "" || !digits(whole) || dot && (frac == "" || !digits(frac)):
		return 0, fmt.Errorf("ε %q is not a decimal number", s)
	case len(frac) > 3:
		return 0, fmt.Errorf("ε %s has more than 3 decimals (ε is counted in thousandths)", s)
	case len(whole) > 7:
		return 0, fmt.Errorf("ε %s is above the largest allowed, %s", s, FormatEpsilon(MaxEpsilonMilli))
	}
	w, err := strconv.ParseUint(whole, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("ε %s: %w", s, err)
	}
	m := w * 1000
	if frac != "" {
		f, err := strconv.ParseUint(frac+strings.Repeat("0", 3-len(frac)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("ε %s: %w", s, err)
		}
		m += f
	}
	if m > MaxEpsilonMilli {
		return 0, fmt.Errorf("ε %s is above the largest allowed, %s", s, FormatEpsilon(MaxEpsilonMilli))
	}
	return m, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// FormatEpsilon renders thousandths as the shortest exact decimal: 1000 →
// "1", 500 → "0.5", 125 → "0.125", 0 → "0".
func FormatEpsilon(milli uint64) string {
	s := strconv.FormatUint(milli/1000, 10)
	if f := milli % 1000; f != 0 {
		s += "." + strings.TrimRight(fmt.Sprintf("%03d", f), "0")
	}
	return s
}

// addMilli adds two ε values, saturating at the largest uint64.
func addMilli(a, b uint64) uint64 {
	if a > ^uint64(0)-b {
		return ^uint64(0)
	}
	return a + b
}
