package plan

import (
	"fmt"
	"sort"
	"strings"
)

// closest returns the candidate nearest to name, or "" if none is near
// enough to be a plausible slip.
//
// Nearness is the optimal-string-alignment edit distance (insertions,
// deletions, substitutions and adjacent transpositions, case-insensitive),
// measured first against the candidate's best-matching prefix and then
// against the whole candidate. Measuring prefixes first means a truncated
// name (cash) finds its completion (cash_deposits_30d) rather than an
// unrelated short name (balance) that happens to be fewer edits away. A
// candidate qualifies when its prefix distance is at most about a third of
// the name's length and smaller than the name itself.
func closest(name string, candidates []string) string {
	in := []rune(strings.ToLower(name))
	if len(in) == 0 || len(in) > maxSuggestRunes {
		return ""
	}
	limit := (len(in) + 2) / 3
	best, bestPrefix, bestFull := "", 0, 0
	for _, c := range candidates {
		if c == "" || c == name {
			continue
		}
		prefix, full := editDistances(in, []rune(strings.ToLower(c)))
		if prefix > limit || prefix >= len(in) {
			continue
		}
		if best == "" || prefix < bestPrefix ||
			(prefix == bestPrefix && (full < bestFull || (full == bestFull && c < best))) {
			best, bestPrefix, bestFull = c, prefix, full
		}
	}
	return best
}

// maxSuggestRunes bounds the work spent on suggestions for long inputs
// (string literals can be long; identifiers are at most 63 bytes).
const maxSuggestRunes = 128

// editDistances returns the optimal-string-alignment distance from a to
// the closest prefix of b, and from a to the whole of b.
func editDistances(a, b []rune) (prefix, full int) {
	// d[i][j] is the distance between a[:i] and b[:j].
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, d[i-2][j-2]+1)
			}
			d[i][j] = v
		}
	}
	last := d[len(a)]
	prefix = last[0]
	for _, v := range last {
		prefix = min(prefix, v)
	}
	return prefix, last[len(b)]
}

// hint returns " (did you mean X?)" for the closest candidate, or a list
// of the valid names when none is close, labelled with what they are.
func hint(name string, candidates []string, what string) string {
	if c := closest(name, candidates); c != "" {
		return fmt.Sprintf(" (did you mean %s?)", c)
	}
	if len(candidates) == 0 {
		return ""
	}
	return fmt.Sprintf(" (%s: %s)", what, list(candidates))
}

// maxListed bounds how many names an error message lists.
const maxListed = 20

// list renders names sorted, comma-separated, at most maxListed of them.
func list(names []string) string {
	s := append([]string(nil), names...)
	sort.Strings(s)
	if len(s) > maxListed {
		return fmt.Sprintf("%s, ... and %d more", strings.Join(s[:maxListed], ", "), len(s)-maxListed)
	}
	return strings.Join(s, ", ")
}
