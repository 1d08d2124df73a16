package coordinator

import (
	"testing"

	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

func TestSetupNeeds(t *testing.T) {
	three := []string{"telecom", "bank", "utility"}
	keys := &ceremonyState{ID: "c-1", ParamSet: "p", PKHash: []byte{1}, Parties: three}
	epoch := &epochState{ID: "e-1", Entities: 10, Sizes: map[string]uint64{"telecom": 5, "bank": 6, "utility": 7}}
	agree := func(names ...string) map[string]*pb.PartyStatus {
		out := map[string]*pb.PartyStatus{}
		for _, n := range names {
			out[n] = &pb.PartyStatus{Name: n, CeremonyId: "c-1", PublicKeyHash: []byte{1}, EpochId: "e-1", Entities: 10}
		}
		return out
	}
	for _, c := range []struct {
		name             string
		k                *ceremonyState
		e                *epochState
		paramSet         string
		names            []string
		sts              map[string]*pb.PartyStatus
		wantKeys, wantEp bool
	}{
		{"all agree", keys, epoch, "p", three, agree(three...), false, false},
		{"configured order does not matter", keys, epoch, "p", []string{"utility", "telecom", "bank"}, agree(three...), false, false},
		{"fresh coordinator", nil, nil, "p", three, agree(three...), true, true},
		{"a party lost its keys", keys, epoch, "p", three, func() map[string]*pb.PartyStatus {
			s := agree(three...)
			s["bank"].CeremonyId = ""
			return s
		}(), true, false},
		{"a party holds another epoch", keys, epoch, "p", three, func() map[string]*pb.PartyStatus {
			s := agree(three...)
			s["utility"].Entities = 11
			return s
		}(), false, true},
		// The removed party would still hold a share the collective key
		// needs: every party left agrees, yet both must be redone.
		{"a party removed", keys, epoch, "p", []string{"telecom", "bank"}, agree("telecom", "bank"), true, true},
		{"a party added", &ceremonyState{ID: "c-1", ParamSet: "p", PKHash: []byte{1}, Parties: three[:2]},
			&epochState{ID: "e-1", Entities: 10, Sizes: map[string]uint64{"telecom": 5, "bank": 6}}, "p", three, agree(three...), true, true},
		{"parameter set changed", keys, epoch, "q", three, agree(three...), true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			k, e, why := setupNeeds(c.k, c.e, c.paramSet, c.names, c.sts)
			if k != c.wantKeys || e != c.wantEp {
				t.Errorf("ceremony %v, alignment %v (why %q); want %v, %v", k, e, why, c.wantKeys, c.wantEp)
			}
			if (k || e) && len(why) == 0 {
				t.Error("no reason given")
			}
		})
	}
}
