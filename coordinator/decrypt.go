package coordinator

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"google.golang.org/protobuf/proto"

	"github.com/mpcq/mpcq/internal/pool"
	"github.com/mpcq/mpcq/internal/transport"
	"github.com/mpcq/mpcq/ledger/entry"
	"github.com/mpcq/mpcq/mpc"
	"github.com/mpcq/mpcq/mpc/chainsig"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// Decryption: every party sends a share that switches the packed totals
// from the collective key to the analyst's; the coordinator combines them,
// records the RESULT entry and returns the switched ciphertexts in batches.
// collectShares is the driver; the rest is pure.

// shareSet holds the parties' decryption shares, one map (party → share)
// per packed total; it is safe for concurrent use.
type shareSet struct {
	mu     sync.Mutex
	shares []map[string][]byte
}

func newShareSet(n int) *shareSet {
	s := &shareSet{shares: make([]map[string][]byte, n)}
	for i := range s.shares {
		s.shares[i] = map[string][]byte{}
	}
	return s
}

// add records the shares a party answered for the totals lo..hi-1 and
// counts their bytes as sent by the party.
func (s *shareSet) add(party string, lo, hi int, got [][]byte, sent *byteCount) error {
	if len(got) != hi-lo {
		return fmt.Errorf("%d decryption shares for %d packed ciphertexts", len(got), hi-lo)
	}
	s.mu.Lock()
	for i, sh := range got {
		s.shares[lo+i][party] = sh
	}
	s.mu.Unlock()
	sent.add(party, got)
	return nil
}

// collectShares asks every party for its decryption shares of the packed
// totals raw, in batches, presenting the query's ledger proof and the
// last party's signature of each (sigs).
func (s *Server) collectShares(ctx context.Context, req *pb.DecryptShareRequest, raw, sigs [][]byte, sent *byteCount) ([]map[string][]byte, error) {
	set := newShareSet(len(raw))
	err := s.forEachParty(ctx, func(ctx context.Context, pc *partyConn) error {
		for _, b := range transport.Batches(len(raw), len(raw[0])) {
			r := proto.Clone(req).(*pb.DecryptShareRequest)
			r.Ciphertexts, r.PackedSignatures, r.Offset = raw[b[0]:b[1]], sigs[b[0]:b[1]], uint32(b[0])
			resp, err := pc.client.DecryptShare(ctx, r)
			if err != nil {
				return err
			}
			if err := set.add(pc.name, b[0], b[1], resp.Shares, sent); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return set.shares, nil
}

// combineShares switches every packed total to the analyst's key with the
// parties' shares, on up to workers goroutines, and returns the switched
// ciphertexts marshalled. A bad share fails with ErrParty and an
// *mpc.PartyError naming its party.
func combineShares(ctx context.Context, params *mpc.Params, workers int, totals []*rlwe.Ciphertext, shares []map[string][]byte) ([][]byte, error) {
	switched := make([][]byte, len(totals))
	err := pool.Run(ctx, workers, len(totals), func(_ context.Context, _, i int) error {
		out, err := params.CombineShares(totals[i], shares[i])
		if err != nil {
			return fmt.Errorf("%w: %w", ErrParty, err)
		}
		switched[i], err = params.MarshalCiphertext(out)
		return err
	})
	if err != nil {
		return nil, err
	}
	return switched, nil
}

// resultEntry is the RESULT ledger entry of a query: the parties, the
// hash of the switched ciphertexts the analyst receives and the hash of
// the packed ciphertexts every party partially decrypted (each as a
// length and its bytes: chainsig.CiphertextsHash).
func resultEntry(queryID string, parties []string, packed, switched [][]byte) entry.Result {
	h := sha256.New()
	for _, b := range switched {
		h.Write(b)
	}
	re := entry.Result{QueryID: queryID, Parties: parties, PackedHash: chainsig.CiphertextsHash(packed)}
	copy(re.CiphertextHash[:], h.Sum(nil))
	return re
}

// resultParts splits a result into the messages that carry it: each a
// copy of result with a batch of its ciphertexts, its offset and the total.
func resultParts(result *pb.QueryResult) []*pb.QueryResult {
	all := result.SumCiphertexts
	var parts []*pb.QueryResult
	for _, b := range transport.Batches(len(all), len(all[0])) {
		part := proto.Clone(result).(*pb.QueryResult)
		part.SumCiphertexts, part.Offset, part.Total = all[b[0]:b[1]], uint32(b[0]), uint32(len(all))
		parts = append(parts, part)
	}
	return parts
}
