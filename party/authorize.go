package party

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mpcq/mpcq/internal/atomicfile"

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

// requestsFile, in the data directory, holds the request memory: the
// bindings of signed requests to query ids that are not yet expired.
const requestsFile = "requests.json"

// requestTTL is how long a binding is remembered: a request older than
// request.MaxAge (plus the clock skew allowed) no longer verifies anyway.
const requestTTL = request.MaxAge + request.MaxSkew

// requestMemory remembers, for request.MaxAge, which query each signed
// request was used for: the coordinator cannot run one signature twice
// under two query ids. A party asked for the same query again (its step,
// then its decryption share) finds the same id. With a path (the party's
// data directory) the memory is durable: every binding is written to the
// file before bind returns, so neither a restart nor a crash lets a
// request be replayed within its window. Without one (tests) it lives in
// memory only.
type requestMemory struct {
	mu   sync.Mutex
	path string
	used map[[32]byte]usedRequest
}

type usedRequest struct {
	queryID string
	at      time.Time
}

// requestRecord is one binding as stored in requestsFile.
type requestRecord struct {
	Hash    string `json:"hash"`     // request.Hash of the signed request, hex
	QueryID string `json:"query_id"` // the query it was used for
	At      int64  `json:"at"`       // when it was (last) used, Unix seconds
}

// openRequestMemory loads the request memory stored at path (a missing
// file is an empty memory), forgetting bindings expired at now. A file
// that does not parse, or holds a malformed binding, is an error naming
// it: starting with an empty memory would allow replays.
func openRequestMemory(path string, now time.Time) (*requestMemory, error) {
	m := &requestMemory{path: path, used: map[[32]byte]usedRequest{}}
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading request memory: %w", err)
	}
	var recs []requestRecord
	if err := json.Unmarshal(b, &recs); err != nil {
		return nil, fmt.Errorf("request memory %s is corrupt: %w", path, err)
	}
	for i, r := range recs {
		h, err := hex.DecodeString(r.Hash)
		if err != nil || len(h) != 32 || r.QueryID == "" || r.At <= 0 {
			return nil, fmt.Errorf("request memory %s is corrupt: entry %d (hash %q, query %q, time %d) is not a 32-byte hex hash, a query id and a time", path, i, r.Hash, r.QueryID, r.At)
		}
		at := time.Unix(r.At, 0)
		if now.Sub(at) > requestTTL {
			continue
		}
		m.used[[32]byte(h)] = usedRequest{queryID: r.QueryID, at: at}
	}
	return m, nil
}

// bind records that the request with hash h is used for queryID at now,
// or refuses if it was used for another query. Expired bindings are
// forgotten first. With a path the memory is written (atomically, before
// bind returns) and a failed write refuses the request, leaving the
// memory as it was.
func (m *requestMemory) bind(h [32]byte, queryID string, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.used == nil {
		m.used = map[[32]byte]usedRequest{}
	}
	for k, u := range m.used {
		if now.Sub(u.at) > requestTTL {
			delete(m.used, k)
		}
	}
	prev, had := m.used[h]
	if had && prev.queryID != queryID {
		return fmt.Errorf("the signed request of query %s was already used for query %s (replay)", queryID, prev.queryID)
	}
	m.used[h] = usedRequest{queryID: queryID, at: now}
	if err := m.save(); err != nil {
		if had {
			m.used[h] = prev
		} else {
			delete(m.used, h)
		}
		return fmt.Errorf("query %s: recording its signed request: %w", queryID, err)
	}
	return nil
}

// save writes the memory to its file, sorted by hash; m.mu is held.
func (m *requestMemory) save() error {
	if m.path == "" {
		return nil
	}
	recs := make([]requestRecord, 0, len(m.used))
	for h, u := range m.used {
		recs = append(recs, requestRecord{Hash: hex.EncodeToString(h[:]), QueryID: u.queryID, At: u.at.Unix()})
	}
	slices.SortFunc(recs, func(a, b requestRecord) int { return strings.Compare(a.Hash, b.Hash) })
	b, err := json.MarshalIndent(recs, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding request memory: %w", err)
	}
	if err := atomicfile.Write(m.path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("request memory: %w", err)
	}
	return nil
}
