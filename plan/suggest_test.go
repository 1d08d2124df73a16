package plan

import "testing"

func TestClosest(t *testing.T) {
	bank := []string{"balance", "cash_deposits_30d", "district"}
	tests := []struct {
		name  string
		cands []string
		want  string
	}{
		{"cash", bank, "cash_deposits_30d"},
		{"balnce", bank, "balance"},
		{"balanse", bank, "balance"},
		{"blaance", bank, "balance"},
		{"BALANCE", bank, "balance"},
		{"distrcit", bank, "district"},
		{"cash_deposits_30days", bank, "cash_deposits_30d"},
		{"x", bank, ""},
		{"zzzzzz", bank, ""},
		{"", bank, ""},
		{"bnak", []string{"bank", "telecom", "utility"}, "bank"},
		{"telco", []string{"bank", "telecom", "utility"}, "telecom"},
		{"kwh", []string{"kwh_30d", "meter_tamper"}, "kwh_30d"},
		{"calls", []string{"calls_30d", "flagged_calls_30d"}, "calls_30d"},
		{"summ", []string{"COUNT", "SUM"}, "SUM"},
		{"balance", bank, ""}, // an exact name is not a suggestion
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := closest(tt.name, tt.cands); got != tt.want {
				t.Errorf("closest(%q) = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
}

func TestEditDistances(t *testing.T) {
	tests := []struct {
		a, b          string
		prefix, total int
	}{
		{"", "", 0, 0},
		{"abc", "abc", 0, 0},
		{"cash", "cash_deposits_30d", 0, 13},
		{"ab", "ba", 1, 1},
		{"kitten", "sitting", 2, 3},
		{"abc", "", 3, 3},
	}
	for _, tt := range tests {
		p, f := editDistances([]rune(tt.a), []rune(tt.b))
		if p != tt.prefix || f != tt.total {
			t.Errorf("editDistances(%q, %q) = %d, %d; want %d, %d", tt.a, tt.b, p, f, tt.prefix, tt.total)
		}
	}
}
