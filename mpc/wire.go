package mpc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/mhe"
	"github.com/tuneinsight/lattigo/v5/ring"
	"github.com/tuneinsight/lattigo/v5/ring/ringqp"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"
)

// ErrMalformed is wrapped by every error of the safe decoder: the bytes are
// not a valid value of the expected shape. Daemons map it to InvalidArgument.
var ErrMalformed = errors.New("malformed value")

// PartyError names the party at fault: a bad value (share) it contributed,
// or, in the coordinator, a step that failed at it. It is the one type for
// "this party failed"; find it with errors.As.
type PartyError struct {
	Party string
	Err   error
}

func (e *PartyError) Error() string { return fmt.Sprintf("party %s: %v", e.Party, e.Err) }
func (e *PartyError) Unwrap() error { return e.Err }

// polyRef is one polynomial's coefficient limbs and the modulus of each limb.
type polyRef struct {
	coeffs [][]uint64
	moduli []uint64
}

func (p *Params) qRefs(level int, polys ...ring.Poly) []polyRef {
	q := p.BGV.RingQ().ModuliChain()[:level+1]
	out := make([]polyRef, 0, len(polys))
	for _, pl := range polys {
		out = append(out, polyRef{coeffs: pl.Coeffs[:level+1], moduli: q})
	}
	return out
}

func (p *Params) qpRefs(polys ...ringqp.Poly) []polyRef {
	q := p.BGV.RingQ().ModuliChain()
	pm := p.BGV.RingP().ModuliChain()
	out := make([]polyRef, 0, 2*len(polys))
	for _, pl := range polys {
		out = append(out, polyRef{coeffs: pl.Q.Coeffs, moduli: q[:len(pl.Q.Coeffs)]})
		if len(pl.P.Coeffs) > 0 {
			out = append(out, polyRef{coeffs: pl.P.Coeffs, moduli: pm[:len(pl.P.Coeffs)]})
		}
	}
	return out
}

func wireSize(refs []polyRef) int {
	n := 0
	for _, r := range refs {
		for _, c := range r.coeffs {
			n += 8 * len(c)
		}
	}
	return n
}

func encodeRefs(refs []polyRef) []byte {
	b := make([]byte, wireSize(refs))
	off := 0
	for _, r := range refs {
		for _, limb := range r.coeffs {
			for _, c := range limb {
				binary.LittleEndian.PutUint64(b[off:], c)
				off += 8
			}
		}
	}
	return b
}

// decodeRefs is the one decoder of untrusted bytes: exact size first, then
// every coefficient below its modulus, then the copy into refs.
func decodeRefs(what string, b []byte, refs []polyRef) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: decoder panic: %v", ErrMalformed, what, r)
		}
	}()
	want := wireSize(refs)
	if len(b) != want {
		return fmt.Errorf("%w: %s: %d bytes, want exactly %d", ErrMalformed, what, len(b), want)
	}
	off := 0
	for pi, r := range refs {
		for li, limb := range r.coeffs {
			q := r.moduli[li]
			src := b[off : off+8*len(limb)]
			for j := range limb {
				v := binary.LittleEndian.Uint64(src[8*j:])
				if v >= q {
					return fmt.Errorf("%w: %s: polynomial %d limb %d coefficient %d is %d, not below the modulus %d", ErrMalformed, what, pi, li, j, v, q)
				}
				limb[j] = v
			}
			off += 8 * len(limb)
		}
	}
	return nil
}

// CiphertextSize is the wire size of a degree-1 ciphertext at a level.
func (p *Params) CiphertextSize(level int) int {
	return 2 * (level + 1) * p.BGV.N() * 8
}

// MarshalCiphertext encodes a degree-1 NTT ciphertext for the wire.
func (p *Params) MarshalCiphertext(ct *rlwe.Ciphertext) ([]byte, error) {
	if ct.Degree() != 1 || !ct.IsNTT {
		return nil, fmt.Errorf("ciphertext: degree %d, NTT %v: only degree-1 NTT ciphertexts go on the wire", ct.Degree(), ct.IsNTT)
	}
	return encodeRefs(p.qRefs(ct.Level(), ct.Value...)), nil
}

// UnmarshalCiphertext decodes an untrusted degree-1 ciphertext that the
// protocol says is at level and carries scale. The shape and metadata come
// from the caller, never from the bytes.
func (p *Params) UnmarshalCiphertext(b []byte, level int, scale rlwe.Scale) (*rlwe.Ciphertext, error) {
	if level < 0 || level > p.MaxLevel() {
		return nil, fmt.Errorf("%w: ciphertext level %d out of range 0..%d", ErrMalformed, level, p.MaxLevel())
	}
	ct := bgv.NewCiphertext(p.BGV, 1, level)
	if err := decodeRefs(fmt.Sprintf("ciphertext at level %d", level), b, p.qRefs(level, ct.Value...)); err != nil {
		return nil, err
	}
	ct.IsNTT = true
	ct.Scale = scale
	return ct, nil
}

// MarshalPublicKey encodes a public key (collective or an analyst's).
func (p *Params) MarshalPublicKey(pk *rlwe.PublicKey) []byte {
	return encodeRefs(p.qpRefs(pk.Value...))
}

// UnmarshalPublicKey decodes an untrusted public key and refuses a
// degenerate one (checkKeyEntropy).
func (p *Params) UnmarshalPublicKey(b []byte) (*rlwe.PublicKey, error) {
	pk := rlwe.NewPublicKey(p.BGV)
	if err := decodeRefs("public key", b, p.qpRefs(pk.Value...)); err != nil {
		return nil, err
	}
	if err := p.checkKeyEntropy(pk); err != nil {
		return nil, err
	}
	return pk, nil
}

// ErrDegenerateKey is wrapped when a public key's polynomials are not
// uniform-looking: an all-zero key, or b = e (a zero secret), whose
// "encryptions" anyone can read. It wraps ErrMalformed.
var ErrDegenerateKey = fmt.Errorf("%w: degenerate public key", ErrMalformed)

// smallShift sets what "small" means: |c| < q / 2^smallShift, centred. A
// uniform coefficient is small with probability 2^-(smallShift-1).
const smallShift = 20

// checkKeyEntropy refuses a public key (b, a) of which either polynomial,
// back in the coefficient domain (out of Montgomery and NTT form), has
// more than 1/16 of its Q coefficients small: a uniform polynomial (a is
// the common random polynomial, b = -a·s + e) has about N·L/2^19 of them,
// i.e. none; all-zero polynomials and b = e from a zero secret have all.
// A key from a low-weight but non-zero secret still looks uniform: that
// weakness is the key owner's to avoid, and is not detectable here.
func (p *Params) checkKeyEntropy(pk *rlwe.PublicKey) error {
	rQ := p.BGV.RingQ()
	tmp := rQ.NewPoly()
	total := rQ.N() * rQ.ModuliChainLength()
	for i, v := range pk.Value {
		rQ.IMForm(v.Q, tmp)
		rQ.INTT(tmp, tmp)
		small := 0
		for li, q := range rQ.ModuliChain() {
			bound := q >> smallShift
			for _, c := range tmp.Coeffs[li] {
				if c < bound || c > q-bound {
					small++
				}
			}
		}
		if small > total/16 {
			return fmt.Errorf("%w: polynomial %d has %d of %d coefficients near zero (a uniform one has about %d)", ErrDegenerateKey, i, small, total, total>>(smallShift-1))
		}
	}
	return nil
}

// MarshalSecretKey encodes a secret key (for the owner's own 0600 file only).
func (p *Params) MarshalSecretKey(sk *rlwe.SecretKey) []byte {
	return encodeRefs(p.qpRefs(sk.Value))
}

// UnmarshalSecretKey decodes a secret key file.
func (p *Params) UnmarshalSecretKey(b []byte) (*rlwe.SecretKey, error) {
	sk := rlwe.NewSecretKey(p.BGV)
	if err := decodeRefs("secret key", b, p.qpRefs(sk.Value)); err != nil {
		return nil, err
	}
	return sk, nil
}

func (p *Params) marshalCKGShare(s mhe.PublicKeyGenShare) []byte {
	return encodeRefs(p.qpRefs(s.Value))
}

func (p *Params) unmarshalCKGShare(b []byte) (mhe.PublicKeyGenShare, error) {
	s := mhe.NewPublicKeyGenProtocol(p.BGV).AllocateShare()
	return s, decodeRefs("public key share", b, p.qpRefs(s.Value))
}

func (p *Params) gkgRefs(s *mhe.GaloisKeyGenShare) []polyRef {
	var polys []ringqp.Poly
	for _, row := range s.Value {
		for _, v := range row {
			polys = append(polys, v...)
		}
	}
	return p.qpRefs(polys...)
}

func (p *Params) marshalGKGShare(s *mhe.GaloisKeyGenShare) []byte {
	return encodeRefs(p.gkgRefs(s))
}

func (p *Params) unmarshalGKGShare(b []byte, galEl uint64) (mhe.GaloisKeyGenShare, error) {
	s := mhe.NewGaloisKeyGenProtocol(p.BGV).AllocateShare()
	s.GaloisElement = galEl
	return s, decodeRefs(fmt.Sprintf("rotation key share (Galois element %d)", galEl), b, p.gkgRefs(&s))
}

func (p *Params) marshalPCKSShare(s mhe.PublicKeySwitchShare) []byte {
	return encodeRefs(p.qRefs(s.Level(), s.Value...))
}

func (p *Params) unmarshalPCKSShare(b []byte, level int) (mhe.PublicKeySwitchShare, error) {
	proto, err := mhe.NewPublicKeySwitchProtocol(p.BGV, p.floodDistribution())
	if err != nil {
		return mhe.PublicKeySwitchShare{}, err
	}
	s := proto.AllocateShare(level)
	return s, decodeRefs(fmt.Sprintf("decryption share at level %d", level), b, p.qRefs(level, s.Value...))
}

func (p *Params) galoisKeyRefs(gk *rlwe.GaloisKey) []polyRef {
	var polys []ringqp.Poly
	for _, row := range gk.Value {
		for _, v := range row {
			polys = append(polys, v...)
		}
	}
	return p.qpRefs(polys...)
}

// MarshalGaloisKey encodes an aggregated rotation key for the wire (the
// coordinator sends them to the parties at the end of the ceremony).
func (p *Params) MarshalGaloisKey(gk *rlwe.GaloisKey) []byte {
	return encodeRefs(p.galoisKeyRefs(gk))
}

// UnmarshalGaloisKey decodes an untrusted rotation key for the Galois
// element galEl, which must be one of GaloisElements.
func (p *Params) UnmarshalGaloisKey(b []byte, galEl uint64) (*rlwe.GaloisKey, error) {
	if !slices.Contains(p.GaloisElements(), galEl) {
		return nil, fmt.Errorf("%w: rotation key for Galois element %d, which packing does not use", ErrMalformed, galEl)
	}
	gk := rlwe.NewGaloisKey(p.BGV)
	gk.GaloisElement = galEl
	gk.NthRoot = p.BGV.RingQ().NthRoot()
	if err := decodeRefs(fmt.Sprintf("rotation key (Galois element %d)", galEl), b, p.galoisKeyRefs(gk)); err != nil {
		return nil, err
	}
	return gk, nil
}
