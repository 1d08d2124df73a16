package coordinator

import (
	"fmt"
	"slices"

	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// setupNeeds decides whether a new key ceremony and a new record alignment
// must run, from the coordinator's ceremony and epoch (nil when it has
// none), its configured parameter set and parties, and the parties'
// statuses. why says what made each needed, for the log.
//
// A ceremony is stale when any party holds other keys, when the parameter
// set changed, or when the parties configured are not the ceremony's: a
// party added has no share, and a party removed holds a share the
// collective key needs, so no query could be decrypted without it. An
// epoch is stale when any party holds another, or when its parties are
// not the configured ones.
func setupNeeds(k *ceremonyState, e *epochState, paramSet string, names []string, sts map[string]*pb.PartyStatus) (needKeys, needEpoch bool, why []string) {
	switch {
	case k == nil:
		needKeys = true
		why = append(why, "no collective key yet")
	case k.ParamSet != paramSet:
		needKeys = true
		why = append(why, fmt.Sprintf("parameter set %s configured, keys are for %s", paramSet, k.ParamSet))
	case !sameSet(k.Parties, names):
		needKeys = true
		why = append(why, fmt.Sprintf("parties %v configured, keys are shared by %v", sorted(names), sorted(k.Parties)))
	}
	switch {
	case e == nil:
		needEpoch = true
		why = append(why, "no record alignment yet")
	case !sameSet(mapKeys(e.Sizes), names):
		needEpoch = true
		why = append(why, fmt.Sprintf("parties %v configured, records aligned for %v", sorted(names), sorted(mapKeys(e.Sizes))))
	}
	for _, name := range sorted(names) {
		st := sts[name]
		if st == nil {
			continue
		}
		if k != nil && !needKeys && (st.CeremonyId != k.ID || string(st.PublicKeyHash) != string(k.PKHash)) {
			needKeys = true
			why = append(why, fmt.Sprintf("party %s holds other keys", name))
		}
		if e != nil && !needEpoch && (st.EpochId != e.ID || st.Entities != e.Entities) {
			needEpoch = true
			why = append(why, fmt.Sprintf("party %s holds another alignment", name))
		}
	}
	return needKeys, needEpoch, why
}

func sameSet(a, b []string) bool { return slices.Equal(sorted(a), sorted(b)) }

func sorted(xs []string) []string {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s
}

func mapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
