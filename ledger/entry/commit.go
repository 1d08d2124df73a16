package entry

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/cryptobyte"
)

// SaltSize is the size of a commitment salt.
const SaltSize = 32

// commitDomain separates ledger commitments from every other SHA-256 use.
// It ends in a NUL so no domain can be a prefix of another.
const commitDomain = "mpcq/ledger/commitment/v1\x00"

// ErrOpening means an opening does not match the commitment it is checked
// against (wrong salt or wrong data).
var ErrOpening = errors.New("opening does not match commitment")

// Commit returns SHA-256("mpcq/ledger/commitment/v1" || 0x00 || salt || data),
// a hiding and binding commitment to data when salt is 32 random bytes kept
// secret until the commitment is opened.
func Commit(salt [SaltSize]byte, data []byte) Hash {
	h := sha256.New()
	h.Write([]byte(commitDomain))
	h.Write(salt[:])
	h.Write(data)
	var out Hash
	h.Sum(out[:0])
	return out
}

// Opening is the secret half of a commitment: the salt and the committed
// data. It is archived (package ledger/archive), never written to the log.
type Opening struct {
	Salt [SaltSize]byte
	Data []byte
}

// NewOpening draws a fresh salt from rand (crypto/rand.Reader in production)
// and returns the opening for data.
func NewOpening(rand io.Reader, data []byte) (Opening, error) {
	var o Opening
	if _, err := io.ReadFull(rand, o.Salt[:]); err != nil {
		return Opening{}, fmt.Errorf("drawing commitment salt: %w", err)
	}
	o.Data = append([]byte(nil), data...)
	return o, nil
}

// Commitment returns Commit(o.Salt, o.Data).
func (o Opening) Commitment() Hash { return Commit(o.Salt, o.Data) }

// Check returns nil if o opens c, and an error wrapping ErrOpening otherwise.
func (o Opening) Check(c Hash) error {
	got := o.Commitment()
	if subtle.ConstantTimeCompare(got[:], c[:]) != 1 {
		return fmt.Errorf("%w: opening commits to %x, ledger has %x", ErrOpening, got[:8], c[:8])
	}
	return nil
}

// PurposeData is the canonical byte string a QUERY's PurposeCommitment
// commits to: the purpose and the legal basis, each as a uint16 big-endian
// length and UTF-8 bytes. Both must be non-empty valid UTF-8 of at most
// MaxTextLen bytes, plain text by CheckPlainText.
func PurposeData(purpose, legalBasis string) ([]byte, error) {
	if err := checkString("purpose", purpose, MaxTextLen, true); err != nil {
		return nil, err
	}
	if err := checkString("legal basis", legalBasis, MaxTextLen, true); err != nil {
		return nil, err
	}
	if err := CheckPlainText("purpose", purpose); err != nil {
		return nil, err
	}
	if err := CheckPlainText("legal basis", legalBasis); err != nil {
		return nil, err
	}
	b := cryptobyte.NewBuilder(nil)
	addString(b, purpose)
	addString(b, legalBasis)
	return b.Bytes()
}

// ParsePurposeData is the inverse of PurposeData; it rejects anything
// PurposeData would not produce.
func ParsePurposeData(data []byte) (purpose, legalBasis string, err error) {
	if purpose, legalBasis, err = DecodePurposeData(data); err != nil {
		return "", "", err
	}
	if _, err := PurposeData(purpose, legalBasis); err != nil {
		return "", "", err
	}
	return purpose, legalBasis, nil
}

// DecodePurposeData decodes purpose data as it may have been committed
// before PurposeData refused control characters: it checks the structure,
// the lengths and UTF-8, not CheckPlainText. Readers of the history (the
// archive, the auditor) use it and escape what they display.
func DecodePurposeData(data []byte) (purpose, legalBasis string, err error) {
	s := cryptobyte.String(data)
	if !readString(&s, &purpose) || !readString(&s, &legalBasis) || !s.Empty() {
		return "", "", fmt.Errorf("%w: purpose data is truncated or has trailing bytes", ErrMalformed)
	}
	if err := checkString("purpose", purpose, MaxTextLen, true); err != nil {
		return "", "", err
	}
	if err := checkString("legal basis", legalBasis, MaxTextLen, true); err != nil {
		return "", "", err
	}
	return purpose, legalBasis, nil
}
