package align

import (
	"errors"

	"filippo.io/edwards25519/field"
	"github.com/gtank/ristretto255"
)

// This file is a second, independent route from a ristretto255 element to
// its Montgomery u-coordinate, for tests only: gtank/ristretto255 encodes
// the element, RFC 9496's decoding (section 4.3.1) gives an Edwards point and
// u = (1+y)/(1-y). It checks hashMap (which never encodes) against RFC 9496's
// vectors and against gtank's FromUniformBytes.

// errNotRistretto is returned for an encoding that RFC 9496 decoding rejects.
var errNotRistretto = errors.New("align: not a canonical ristretto255 encoding")

// montgomeryMap turns a ristretto255 element into the u-coordinate of
// Curve25519 on which the blinding (X25519) works. It keeps the constants
// and scratch space for one goroutine.
type montgomeryMap struct {
	d        *field.Element
	one      *field.Element
	enc      [ElementSize]byte
	s, ss    field.Element
	u1, u2   field.Element
	u2sq, v  field.Element
	t, den   field.Element
	denY, y  field.Element
	num, inv field.Element
}

func newMontgomeryMap() *montgomeryMap {
	return &montgomeryMap{d: edwardsD(), one: new(field.Element).One()}
}

// uCoordinate writes to dst (32 bytes) the Montgomery u-coordinate
// u = (1+y)/(1-y) of the Edwards point that RFC 9496's decoding (section
// 4.3.1) returns for e's canonical encoding. That point is one
// representative of e's coset P + E[4]; the representatives differ by a
// 4-torsion point, which the clamped X25519 scalar (a multiple of 8) removes,
// so every representative blinds to the same pseudonym.
func (m *montgomeryMap) uCoordinate(dst []byte, e *ristretto255.Element) error {
	e.Encode(m.enc[:0])
	return m.fromEncoding(dst, m.enc[:])
}

// fromEncoding is uCoordinate on an encoding; it refuses what RFC 9496
// decoding refuses (non-canonical or negative s, non-square, negative t,
// y = 0).
func (m *montgomeryMap) fromEncoding(dst, enc []byte) error {
	if len(enc) != ElementSize {
		return errNotRistretto
	}
	if _, err := m.s.SetBytes(enc); err != nil {
		return errNotRistretto
	}
	// Canonical (s < p) and non-negative (even) s only.
	if string(m.s.Bytes()) != string(enc) || enc[0]&1 == 1 {
		return errNotRistretto
	}
	m.ss.Square(&m.s)
	m.u1.Subtract(m.one, &m.ss) // 1 - s²
	m.u2.Add(m.one, &m.ss)      // 1 + s²
	m.u2sq.Square(&m.u2)
	// v = -(D·u1²) - u2²
	m.v.Square(&m.u1)
	m.v.Multiply(&m.v, m.d)
	m.v.Negate(&m.v)
	m.v.Subtract(&m.v, &m.u2sq)
	// (was_square, invsqrt) = SQRT_RATIO_M1(1, v·u2²)
	m.t.Multiply(&m.v, &m.u2sq)
	_, wasSquare := m.inv.SqrtRatio(m.one, &m.t)
	m.den.Multiply(&m.inv, &m.u2)   // den_x
	m.denY.Multiply(&m.inv, &m.den) // invsqrt·den_x
	m.denY.Multiply(&m.denY, &m.v)  // den_y
	m.y.Multiply(&m.u1, &m.denY)    // y
	m.t.Multiply(&m.s, &m.den)      // s·den_x
	m.t.Add(&m.t, &m.t)             // 2·s·den_x
	m.t.Absolute(&m.t)              // x = CT_ABS(2·s·den_x)
	m.t.Multiply(&m.t, &m.y)        // t = x·y
	if wasSquare != 1 || m.t.IsNegative() == 1 || m.y.Equal(new(field.Element)) == 1 {
		return errNotRistretto
	}
	// u = (1+y)/(1-y); y ≠ 1 because y = 1 only for the identity, which
	// decodes from s = 0 and is refused by the caller.
	m.num.Add(m.one, &m.y)
	m.den.Subtract(m.one, &m.y)
	m.den.Invert(&m.den)
	m.num.Multiply(&m.num, &m.den)
	copy(dst, m.num.Bytes())
	return nil
}
