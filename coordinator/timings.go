package coordinator

import (
	"time"

	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// Names of a query's timings (pb.QueryResult.timings), in the order the
// phases happen. They add up to the coordinator's time for the query:
// the chain is pipelined (every party works on a block as soon as its
// predecessor sends it), so PhaseChainParty+name is, for the first party,
// the time from the chain's opening to its last block (its whole
// encryption), and for each next party but the last the time it needed
// after its predecessor's last block (about one block's step when it keeps
// up, more when it is the slower one); PhasePack is the same for the last
// party: its last block's step, the combination of the terms, the slot
// sums, the packing and its signature. A chain of one party has no
// PhasePack: its time is all PhaseChainParty+name.
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

// addChain splits the chain's time, started at start, into its phases:
// the opening (until opened), then each party's share of the pipeline
// from done (when each party's stream ended, in chain order; see the
// phase names). Pure.
func (t *timings) addChain(start, opened time.Time, done []time.Time, names []string) {
	t.add(PhaseChainOpen, opened.Sub(start))
	prev := opened
	for i, at := range done {
		name := PhaseChainParty + names[i]
		if i == len(done)-1 && i > 0 {
			name = PhasePack
		}
		// In an answered query every stream ends after its predecessor's;
		// the clamp only keeps a figure from going negative.
		t.add(name, max(at.Sub(prev), 0))
		if at.After(prev) {
			prev = at
		}
	}
}
