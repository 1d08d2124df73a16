package mpc

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/mhe"
	"github.com/tuneinsight/lattigo/v5/utils/sampling"
)

// ErrTranscript is wrapped by errors about an invalid ceremony transcript.
var ErrTranscript = errors.New("invalid ceremony transcript")

// NonceSize is the size of every party's fresh ceremony nonce.
const NonceSize = 32

// Transcript is what every party and the coordinator agree on before key
// generation. The common random polynomials are derived from its hash, so
// no single participant chooses them.
type Transcript struct {
	Consortium string            // consortium identifier from the configuration
	ID         string            // ceremony identifier
	ParamSet   string            // parameter set name
	Parties    []string          // party names, sorted, unique
	Nonces     map[string][]byte // one fresh NonceSize-byte nonce per party
}

// Seed validates the transcript and returns the CRS seed: SHA-256 over a
// length-prefixed encoding of every field, parties in sorted order.
func (t Transcript) Seed() ([32]byte, error) {
	if t.ID == "" || t.ParamSet == "" || t.Consortium == "" {
		return [32]byte{}, fmt.Errorf("%w: consortium, ceremony id and parameter set are required", ErrTranscript)
	}
	if len(t.Parties) == 0 {
		return [32]byte{}, fmt.Errorf("%w: no parties", ErrTranscript)
	}
	if !sort.StringsAreSorted(t.Parties) {
		return [32]byte{}, fmt.Errorf("%w: parties %v are not sorted", ErrTranscript, t.Parties)
	}
	h := sha256.New()
	put := func(b []byte) {
		var l [8]byte
		binary.BigEndian.PutUint64(l[:], uint64(len(b)))
		h.Write(l[:])
		h.Write(b)
	}
	put([]byte("mpcq/ceremony/v1"))
	put([]byte(t.Consortium))
	put([]byte(t.ID))
	put([]byte(t.ParamSet))
	for i, p := range t.Parties {
		if i > 0 && t.Parties[i-1] == p {
			return [32]byte{}, fmt.Errorf("%w: party %s listed twice", ErrTranscript, p)
		}
		n, ok := t.Nonces[p]
		if !ok || len(n) != NonceSize {
			return [32]byte{}, fmt.Errorf("%w: party %s has no %d-byte nonce", ErrTranscript, p, NonceSize)
		}
		put([]byte(p))
		put(n)
	}
	if len(t.Nonces) != len(t.Parties) {
		return [32]byte{}, fmt.Errorf("%w: %d nonces for %d parties", ErrTranscript, len(t.Nonces), len(t.Parties))
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out, nil
}

// crs returns an independent keyed PRNG for one protocol instance, so the
// order in which instances are run does not matter.
func crs(seed [32]byte, label string) (*sampling.KeyedPRNG, error) {
	k := sha256.Sum256(append(append([]byte("mpcq/crs/v1/"), seed[:]...), []byte(label)...))
	return sampling.NewKeyedPRNG(k[:])
}

func gkgLabel(galEl uint64) string { return fmt.Sprintf("gkg/%d", galEl) }

// NewSecretKey samples a party's secret key share.
func (p *Params) NewSecretKey() *rlwe.SecretKey {
	return rlwe.NewKeyGenerator(p.BGV).GenSecretKeyNew()
}

// GenPublicKeyShare is a party's CKG step: its share of the collective
// public key for the ceremony seed.
func (p *Params) GenPublicKeyShare(sk *rlwe.SecretKey, seed [32]byte) ([]byte, error) {
	prng, err := crs(seed, "ckg")
	if err != nil {
		return nil, err
	}
	ckg := mhe.NewPublicKeyGenProtocol(p.BGV)
	crp := ckg.SampleCRP(prng)
	share := ckg.AllocateShare()
	ckg.GenShare(sk, crp, &share)
	return p.marshalCKGShare(share), nil
}

// AggregatePublicKey is the coordinator's CKG step: it decodes every
// party's share (untrusted bytes) and returns the collective public key.
func (p *Params) AggregatePublicKey(seed [32]byte, shares map[string][]byte) (*rlwe.PublicKey, error) {
	if len(shares) == 0 {
		return nil, fmt.Errorf("no public key shares")
	}
	prng, err := crs(seed, "ckg")
	if err != nil {
		return nil, err
	}
	ckg := mhe.NewPublicKeyGenProtocol(p.BGV)
	crp := ckg.SampleCRP(prng)
	agg := ckg.AllocateShare()
	first := true
	for _, name := range sortedKeys(shares) {
		s, err := p.unmarshalCKGShare(shares[name])
		if err != nil {
			return nil, &PartyError{Party: name, Err: err}
		}
		if first {
			agg, first = s, false
			continue
		}
		ckg.AggregateShares(agg, s, &agg)
	}
	pk := rlwe.NewPublicKey(p.BGV)
	ckg.GenPublicKey(agg, crp, pk)
	return pk, nil
}

// GenGaloisKeyShare is a party's GKG step for one Galois element.
func (p *Params) GenGaloisKeyShare(sk *rlwe.SecretKey, seed [32]byte, galEl uint64) ([]byte, error) {
	prng, err := crs(seed, gkgLabel(galEl))
	if err != nil {
		return nil, err
	}
	gkg := mhe.NewGaloisKeyGenProtocol(p.BGV)
	crp := gkg.SampleCRP(prng)
	share := gkg.AllocateShare()
	if err := gkg.GenShare(sk, galEl, crp, &share); err != nil {
		return nil, fmt.Errorf("rotation key share for Galois element %d: %w", galEl, err)
	}
	return p.marshalGKGShare(&share), nil
}

// AggregateGaloisKey is the coordinator's GKG step for one Galois element.
func (p *Params) AggregateGaloisKey(seed [32]byte, galEl uint64, shares map[string][]byte) (*rlwe.GaloisKey, error) {
	if len(shares) == 0 {
		return nil, fmt.Errorf("no rotation key shares")
	}
	prng, err := crs(seed, gkgLabel(galEl))
	if err != nil {
		return nil, err
	}
	gkg := mhe.NewGaloisKeyGenProtocol(p.BGV)
	crp := gkg.SampleCRP(prng)
	agg := gkg.AllocateShare()
	agg.GaloisElement = galEl
	first := true
	for _, name := range sortedKeys(shares) {
		s, err := p.unmarshalGKGShare(shares[name], galEl)
		if err != nil {
			return nil, &PartyError{Party: name, Err: err}
		}
		if first {
			agg, first = s, false
			continue
		}
		if err := gkg.AggregateShares(agg, s, &agg); err != nil {
			return nil, &PartyError{Party: name, Err: fmt.Errorf("aggregating rotation key share: %w", err)}
		}
	}
	gk := rlwe.NewGaloisKey(p.BGV)
	if err := gkg.GenGaloisKey(agg, crp, gk); err != nil {
		return nil, fmt.Errorf("rotation key for Galois element %d: %w", galEl, err)
	}
	return gk, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
