// Package archive keeps the openings of the ledger's salted commitments:
// for every QUERY, the salt and canonical text of the query and the salt
// and purpose/legal basis, in a bbolt file. The ledger holds only the
// commitments; an auditor given this archive checks one against the other
// (package ledger/audit).
//
// The archive is append-only by contract: Put refuses to change a stored
// record. It is not the ledger and proves nothing by itself; its contents
// are sensitive (they reveal what was asked and why) and belong with the
// oversight body, not in logs.
package archive

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mpcq/mpcq/ledger/entry"
	bolt "go.etcd.io/bbolt"
)

var (
	// ErrNotFound means no record is stored for the query ID.
	ErrNotFound = errors.New("no opening archived for query")
	// ErrExists means a different record is already stored for the query ID.
	ErrExists = errors.New("a different opening is already archived for query")
	// ErrInvalid means a record is malformed (empty ID, undecodable purpose
	// data, or a stored value that does not decode).
	ErrInvalid = errors.New("invalid opening record")
)

// bucketName is the bbolt bucket holding records, keyed by query ID.
const bucketName = "openings/v1"

// recordVersion is the version field of the stored JSON.
const recordVersion = 1

// Record holds the openings of one QUERY's commitments.
type Record struct {
	// QueryID is the QUERY's ID.
	QueryID string
	// QueryText opens Query.QueryCommitment; Data is the canonical query text.
	QueryText entry.Opening
	// Purpose opens Query.PurposeCommitment; Data is
	// entry.PurposeData(purpose, legal basis).
	Purpose entry.Opening
	// Signed is the analyst's signed request (ledger/request encoding,
	// signature, certificate PEM), so that auditors can check who asked;
	// empty in records from before analysts signed.
	Signed SignedRequest
	// Warrant is the signed warrant the query ran under (its file bytes,
	// package warrant; warrant.Hash of it is the QUERY's WarrantHash);
	// empty for a query without a warrant and in older records.
	Warrant []byte
}

// SignedRequest is an analyst's signed request as archived.
type SignedRequest struct {
	Request, Signature, Certificate []byte
}

// Check verifies that r opens q's commitments.
func (r Record) Check(q entry.Query) error {
	if r.QueryID != q.QueryID {
		return fmt.Errorf("%w: record is for query %q, entry is %q", ErrInvalid, r.QueryID, q.QueryID)
	}
	if err := r.QueryText.Check(q.QueryCommitment); err != nil {
		return fmt.Errorf("query %q text: %w", q.QueryID, err)
	}
	if err := r.Purpose.Check(q.PurposeCommitment); err != nil {
		return fmt.Errorf("query %q purpose and legal basis: %w", q.QueryID, err)
	}
	return nil
}

func (r Record) validate() error {
	if err := validID(r.QueryID); err != nil {
		return err
	}
	if _, _, err := entry.DecodePurposeData(r.Purpose.Data); err != nil {
		return fmt.Errorf("%w: query %q purpose data: %w", ErrInvalid, r.QueryID, err)
	}
	return nil
}

func validID(id string) error {
	if id == "" || len(id) > entry.MaxIDLen {
		return fmt.Errorf("%w: query ID must be 1..%d bytes", ErrInvalid, entry.MaxIDLen)
	}
	return nil
}

type storedRecord struct {
	Version     int    `json:"version"`
	QueryID     string `json:"query_id"`
	QuerySalt   []byte `json:"query_salt"`
	QueryText   []byte `json:"query_text"`
	PurposeSalt []byte `json:"purpose_salt"`
	PurposeData []byte `json:"purpose_data"`
	Request     []byte `json:"request,omitempty"`
	Signature   []byte `json:"request_signature,omitempty"`
	Certificate []byte `json:"analyst_certificate,omitempty"`
	Warrant     []byte `json:"warrant,omitempty"`
}

func encode(r Record) ([]byte, error) {
	text := r.QueryText.Data
	if text == nil {
		text = []byte{} // nil and empty encode alike, so Put stays idempotent
	}
	return json.Marshal(storedRecord{
		Version: recordVersion, QueryID: r.QueryID,
		QuerySalt: r.QueryText.Salt[:], QueryText: text,
		PurposeSalt: r.Purpose.Salt[:], PurposeData: r.Purpose.Data,
		Request: r.Signed.Request, Signature: r.Signed.Signature, Certificate: r.Signed.Certificate,
		Warrant: r.Warrant,
	})
}

func decode(raw []byte) (Record, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var s storedRecord
	if err := dec.Decode(&s); err != nil {
		return Record{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if dec.More() {
		return Record{}, fmt.Errorf("%w: trailing data", ErrInvalid)
	}
	if s.Version != recordVersion {
		return Record{}, fmt.Errorf("%w: record version %d, this build reads %d", ErrInvalid, s.Version, recordVersion)
	}
	if len(s.QuerySalt) != entry.SaltSize || len(s.PurposeSalt) != entry.SaltSize {
		return Record{}, fmt.Errorf("%w: salts must be %d bytes", ErrInvalid, entry.SaltSize)
	}
	r := Record{QueryID: s.QueryID}
	copy(r.QueryText.Salt[:], s.QuerySalt)
	copy(r.Purpose.Salt[:], s.PurposeSalt)
	r.QueryText.Data = s.QueryText
	if r.QueryText.Data == nil {
		r.QueryText.Data = []byte{} // as encode writes it
	}
	r.Purpose.Data = s.PurposeData
	r.Signed = SignedRequest{Request: s.Request, Signature: s.Signature, Certificate: s.Certificate}
	r.Warrant = s.Warrant
	if err := r.validate(); err != nil {
		return Record{}, err
	}
	return r, nil
}

// Archive is an open archive file. Its methods are safe for concurrent use
// within one process; bbolt's file lock keeps other processes out.
type Archive struct {
	db *bolt.DB
}

// Open opens or creates the archive at path, waiting at most lockTimeout
// for another process holding it (zero means 5 s).
func Open(path string, lockTimeout time.Duration) (*Archive, error) {
	if lockTimeout == 0 {
		lockTimeout = 5 * time.Second
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if err != nil {
		return nil, fmt.Errorf("opening opening archive %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists([]byte(bucketName))
		return err
	}); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("initialising opening archive %s: %w", path, err)
	}
	return &Archive{db: db}, nil
}

// Close closes the file.
func (a *Archive) Close() error { return a.db.Close() }

// Put stores r under queryID (which must equal r.QueryID). Storing an
// identical record again is a no-op; a different one fails with ErrExists.
// It returns after bbolt has synced the write.
func (a *Archive) Put(queryID string, r Record) error {
	if queryID != r.QueryID {
		return fmt.Errorf("%w: key %q differs from record query ID %q", ErrInvalid, queryID, r.QueryID)
	}
	if err := r.validate(); err != nil {
		return err
	}
	raw, err := encode(r)
	if err != nil {
		return fmt.Errorf("encoding opening for %q: %w", queryID, err)
	}
	return a.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketName))
		if old := b.Get([]byte(queryID)); old != nil {
			if bytes.Equal(old, raw) {
				return nil
			}
			return fmt.Errorf("%w: %q", ErrExists, queryID)
		}
		return b.Put([]byte(queryID), raw)
	})
}

// Get returns the record for queryID, or an error wrapping ErrNotFound.
func (a *Archive) Get(queryID string) (Record, error) {
	var raw []byte
	if err := a.db.View(func(tx *bolt.Tx) error {
		raw = bytes.Clone(tx.Bucket([]byte(bucketName)).Get([]byte(queryID)))
		return nil
	}); err != nil {
		return Record{}, fmt.Errorf("reading opening for %q: %w", queryID, err)
	}
	if raw == nil {
		return Record{}, fmt.Errorf("%w: %q", ErrNotFound, queryID)
	}
	r, err := decode(raw)
	if err != nil {
		return Record{}, fmt.Errorf("opening for %q: %w", queryID, err)
	}
	if r.QueryID != queryID {
		return Record{}, fmt.Errorf("%w: stored under %q but names %q", ErrInvalid, queryID, r.QueryID)
	}
	return r, nil
}

// List returns the archived query IDs in byte order.
func (a *Archive) List() ([]string, error) {
	var ids []string
	err := a.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketName)).ForEach(func(k, _ []byte) error {
			ids = append(ids, string(k))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("listing openings: %w", err)
	}
	return ids, nil
}
