package coordinator

import (
	"time"

	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// Names of a query's timings (pb.QueryResult.timings), in the order the
// phases happen. The chain is pipelined (every party works on a block as
// soon as its predecessor sends it) and the first party starts encrypting
// as soon as it has checked its header, while the coordinator opens the
// next parties' streams: so PhaseChainParty+name is, for the first party,
// its whole encryption (from its output map to its last block, overlapping
// PhaseChainOpen); for each next party but the last, the time it needed
// after its predecessor's last block and the chain's opening (about one
// block's step when it keeps up, more when it is the slower one); and
// PhasePack the same for the last party: its last block's step, the
// combination of the terms, the slot sums, the packing and its signature.
// A chain of one party has no PhasePack: its time is all its
// PhaseChainParty+name. Apart from that overlap the phases add up to the
// coordinator's time for the query.
const (
	PhasePlan          = "plan"           // intake: parse, plan, signatures, privacy checks
	PhaseQueued        = "queued"         // waiting for a running slot
	PhaseLedgerQuery   = "ledger_query"   // archive, QUERY entry cosigned by every party, inclusion proof
	PhaseChainOpen     = "chain_open"     // every party's header checks (gate, request, policy) and output map
	PhaseChainParty    = "chain."         // + the party's name
	PhasePack          = "pack"           // the last party's tail: last block, combination, packing
	PhaseDecryptShares = "decrypt_shares" // every party's decryption shares (in parallel)
	PhaseCombine       = "combine"        // combining the shares: the totals under the analyst's key
	PhaseLedgerResult  = "ledger_result"  // RESULT entry cosigned by every party
)

// timings collects a query's phase durations in order.
type timings []*pb.Timing

func (t *timings) add(name string, d time.Duration) {
	*t = append(*t, &pb.Timing{Name: name, Seconds: d.Seconds()})
}

// addChain splits the chain's time into its phases (see the names):
// start is when the chain started, opened when every stream was open,
// first when the first party had checked its header, done when each
// party's stream ended, in chain order. Pure.
func (t *timings) addChain(start, opened, first time.Time, done []time.Time, names []string) {
	t.add(PhaseChainOpen, opened.Sub(start))
	prev := first
	for i, at := range done {
		name := PhaseChainParty + names[i]
		if i == len(done)-1 && i > 0 {
			name = PhasePack
		}
		if i == 1 && opened.After(prev) {
			prev = opened // the first party finished before the chain was open
		}
		// In an answered query every stream ends after its predecessor's;
		// the clamp only keeps a figure from going negative.
		t.add(name, max(at.Sub(prev), 0))
		if at.After(prev) {
			prev = at
		}
	}
}
