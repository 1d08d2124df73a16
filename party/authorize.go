package party

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mpcq/mpcq/ledger/entry"
	"github.com/mpcq/mpcq/ledger/request"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// ErrUnauthorized is wrapped when a query step or a decryption share is
// refused because the analyst did not sign this request: no signature, a
// certificate that is not a consortium analyst's, a signature over other
// SQL, another analyst, another key, a stale time or a replayed nonce.
var ErrUnauthorized = errors.New("request not signed by the analyst")

// authorize checks an analyst's signed request against the QUERY entry the
// party's gate accepted and the plan it is asked to run: the certificate
// chains to the consortium CA and is an analyst's, the signature verifies,
// the time is in the window, the signed canonical SQL is the plan's, the
// signer and key hash are the ones committed on the ledger, and the
// request was not used for another query. It returns the verified request.
func (s *Server) authorize(sr *pb.SignedRequest, q entry.Query, plan *pb.Plan, now time.Time) (request.Verified, error) {
	if sr == nil {
		return request.Verified{}, fmt.Errorf("%w: query %s comes without the analyst's signed request", ErrUnauthorized, q.QueryID)
	}
	v, err := request.Verify(sr.Request, sr.Signature, sr.Certificate, s.caPEM, now)
	if err != nil {
		return request.Verified{}, fmt.Errorf("%w: query %s: %w", ErrUnauthorized, q.QueryID, err)
	}
	switch {
	case plan == nil || v.Canonical != plan.Canonical:
		return request.Verified{}, fmt.Errorf("%w: query %s: the analyst signed %q, the plan is for %q", ErrUnauthorized, q.QueryID, v.Canonical, plan.GetCanonical())
	case v.Analyst.String() != q.Analyst:
		return request.Verified{}, fmt.Errorf("%w: query %s: signed by %s, committed on the ledger for %s", ErrUnauthorized, q.QueryID, v.Analyst, q.Analyst)
	case v.KeyHash != q.AnalystKeyHash:
		return request.Verified{}, fmt.Errorf("%w: query %s: the signed analyst key differs from the one committed on the ledger", ErrUnauthorized, q.QueryID)
	}
	if err := s.requests.bind(request.Hash(sr.Request), q.QueryID, now); err != nil {
		return request.Verified{}, fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	return v, nil
}

// requestMemory remembers, for request.MaxAge, which query each signed
// request was used for: the coordinator cannot run one signature twice
// under two query ids. A party asked for the same query again (its step,
// then its decryption share) finds the same id.
type requestMemory struct {
	mu   sync.Mutex
	used map[[32]byte]usedRequest
}

type usedRequest struct {
	queryID string
	at      time.Time
}

func (m *requestMemory) bind(h [32]byte, queryID string, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.used == nil {
		m.used = map[[32]byte]usedRequest{}
	}
	for k, u := range m.used {
		if now.Sub(u.at) > request.MaxAge+request.MaxSkew {
			delete(m.used, k)
		}
	}
	if u, ok := m.used[h]; ok && u.queryID != queryID {
		return fmt.Errorf("the signed request of query %s was already used for query %s (replay)", queryID, u.queryID)
	}
	m.used[h] = usedRequest{queryID: queryID, at: now}
	return nil
}
