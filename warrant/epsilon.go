package warrant

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ParseEpsilon reads a privacy budget ε written as a decimal with at most
// three decimals ("2", "2.5", "0.125") and returns ε×1000. It refuses
// signs, exponents, more decimals and values that do not fit. "0" is 0
// (which a Scope reads as unlimited).
func ParseEpsilon(s string) (uint64, error) {
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || (hasDot && (frac == "" || len(frac) > 3)) || !allDigits(intPart) || !allDigits(frac) {
		return 0, fmt.Errorf("%w: ε %q is not a decimal with at most 3 decimals, e.g. 2.5", ErrMalformed, s)
	}
	whole, err := strconv.ParseUint(intPart, 10, 64)
	if err != nil || whole > math.MaxUint64/1000-1 {
		return 0, fmt.Errorf("%w: ε %q is too large", ErrMalformed, s)
	}
	milli := whole * 1000
	if frac != "" {
		f, _ := strconv.ParseUint(frac+strings.Repeat("0", 3-len(frac)), 10, 64)
		milli += f
	}
	return milli, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// FormatEpsilon writes ε×1000 as a decimal without trailing zeros: 2500
// is "2.5", 3000 is "3".
func FormatEpsilon(milli uint64) string {
	s := fmt.Sprintf("%d.%03d", milli/1000, milli%1000)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}
