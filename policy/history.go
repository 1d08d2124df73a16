package policy

import (
	"errors"
	"fmt"
	"sort"
	"time"
)

// ErrHistory is wrapped when a version cannot join a History.
var ErrHistory = errors.New("invalid policy history")

// Version is one policy version as committed to the ledger: the POLICY
// entry at LedgerIndex.
type Version struct {
	Policy      *Policy
	LedgerIndex uint64
}

// History is a party's policy versions in ledger order. The zero History
// is empty. It is not safe for concurrent modification.
type History struct {
	versions []Version
}

// Add appends a version committed after every version already in the
// history: its ledger index and policy version must both be greater than
// the last one's, and its party the same. Errors wrap ErrHistory.
func (h *History) Add(v Version) error {
	if v.Policy == nil {
		return fmt.Errorf("%w: version at ledger index %d has no policy", ErrHistory, v.LedgerIndex)
	}
	if n := len(h.versions); n > 0 {
		last := h.versions[n-1]
		switch {
		case v.LedgerIndex <= last.LedgerIndex:
			return fmt.Errorf("%w: policy version %d at ledger index %d is not after version %d at index %d",
				ErrHistory, v.Policy.Version, v.LedgerIndex, last.Policy.Version, last.LedgerIndex)
		case v.Policy.Version <= last.Policy.Version:
			return fmt.Errorf("%w: policy version %d at ledger index %d does not increase on version %d",
				ErrHistory, v.Policy.Version, v.LedgerIndex, last.Policy.Version)
		case v.Policy.Party != last.Policy.Party:
			return fmt.Errorf("%w: policy version %d is party %s's, the history is party %s's",
				ErrHistory, v.Policy.Version, v.Policy.Party, last.Policy.Party)
		}
	}
	h.versions = append(h.versions, v)
	return nil
}

// Versions returns the versions in ledger order.
func (h *History) Versions() []Version { return append([]Version(nil), h.versions...) }

// Latest returns the last version's policy, or false if the history is
// empty.
func (h *History) Latest() (*Policy, bool) {
	if len(h.versions) == 0 {
		return nil, false
	}
	return h.versions[len(h.versions)-1].Policy, true
}

// At returns the policy in force for a query committed at ledger index
// queryIndex: the latest version whose POLICY entry's index is less than
// queryIndex. It is false when no version precedes the query.
func (h *History) At(queryIndex uint64) (*Policy, bool) {
	// The first version at or after queryIndex; the one before is in force.
	i := sort.Search(len(h.versions), func(i int) bool { return h.versions[i].LedgerIndex >= queryIndex })
	if i == 0 {
		return nil, false
	}
	return h.versions[i-1].Policy, true
}

// LongestPeriod is the longest budget period of any version: how long a
// Book must keep charges (see Book.Prune).
func (h *History) LongestPeriod() time.Duration {
	var d time.Duration
	for _, v := range h.versions {
		d = max(d, v.Policy.Budget.Period)
	}
	return d
}
