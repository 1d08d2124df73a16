package archive

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/mpcq/mpcq/ledger/entry"
	"github.com/mpcq/mpcq/ledger/request"
)

// ErrUnsigned is wrapped by CheckRequest when a record's signed request is
// missing or does not match the QUERY entry and the openings.
var ErrUnsigned = errors.New("archived request not signed as committed")

// CheckRequest verifies who asked: the record's signed request verifies
// under the consortium CA (caPEM) as of the time it was signed, and signs
// exactly the archived canonical text, purpose and legal basis, for the
// analyst and analyst key the QUERY entry q commits. Pure; for auditors.
func (r Record) CheckRequest(q entry.Query, caPEM []byte) error {
	if len(r.Signed.Request) == 0 {
		return fmt.Errorf("%w: query %s has no signed request archived", ErrUnsigned, q.QueryID)
	}
	d, err := request.Decode(r.Signed.Request)
	if err != nil {
		return fmt.Errorf("%w: query %s: %w", ErrUnsigned, q.QueryID, err)
	}
	v, err := request.Verify(r.Signed.Request, r.Signed.Signature, r.Signed.Certificate, caPEM, time.Unix(d.Time, 0))
	if err != nil {
		return fmt.Errorf("%w: query %s: %w", ErrUnsigned, q.QueryID, err)
	}
	purpose, err := entry.PurposeData(v.Purpose, v.LegalBasis)
	if err != nil {
		return fmt.Errorf("%w: query %s: %v", ErrUnsigned, q.QueryID, err)
	}
	switch {
	case v.Canonical != string(r.QueryText.Data):
		return fmt.Errorf("%w: query %s: the analyst signed %q, the archived text is %q", ErrUnsigned, q.QueryID, v.Canonical, r.QueryText.Data)
	case !bytes.Equal(purpose, r.Purpose.Data):
		return fmt.Errorf("%w: query %s: the signed purpose or legal basis differs from the archived one", ErrUnsigned, q.QueryID)
	case v.Analyst.String() != q.Analyst:
		return fmt.Errorf("%w: query %s: signed by %s, committed for %s", ErrUnsigned, q.QueryID, v.Analyst, q.Analyst)
	case v.KeyHash != q.AnalystKeyHash:
		return fmt.Errorf("%w: query %s: the signed analyst key differs from the committed one", ErrUnsigned, q.QueryID)
	}
	return nil
}
