package align

import (
	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
)

// edwardsD is the twisted Edwards constant d = -121665/121666 of
// edwards25519 (RFC 9496 section 4.1, D), built once per call site from the
// integers rather than typed in as bytes.
func edwardsD() *field.Element {
	num := smallElement(121665)
	den := smallElement(121666)
	d := new(field.Element).Invert(den)
	d.Multiply(d, num)
	return d.Negate(d)
}

// smallElement returns the field element n.
func smallElement(n uint32) *field.Element {
	var b [32]byte
	b[0], b[1], b[2], b[3] = byte(n), byte(n>>8), byte(n>>16), byte(n>>24)
	e, _ := new(field.Element).SetBytes(b[:]) // 32 bytes: never fails
	return e
}

// hashMap is the hash-to-curve for one goroutine: RFC 9496's hash-to-group
// (section 4.3.4, FromUniformBytes: the ristretto255 one-way map applied to
// both halves of 64 uniform bytes, the two points added), computed on
// edwards25519 points in extended coordinates, then the sum's Montgomery
// u-coordinate u = (Z+Y)/(Z-Y) (RFC 7748 section 4.1's birational map).
//
// The sum is one Edwards representative of the ristretto255 element
// (a coset P + E[4]). Representatives differ by a 4-torsion point, which
// the clamped X25519 scalar (a multiple of the cofactor 8) removes, so the
// blinded value depends on the ristretto255 element only. Computing on the
// points directly avoids the ristretto255 encoding and decoding (two
// inverse square roots) that going through an encoded element would cost.
type hashMap struct {
	// Constants of RFC 9496 section 4.1, derived from d.
	d, one, minusOne, sqrtM1, oneMinusDSq, dMinusOneSq, sqrtADMinusOne field.Element

	t, r, u, v, s, sPrime, c, n, w0, w1, w2, w3, tmp field.Element
	x, y, z, tt                                      field.Element
	p1, p2                                           edwards25519.Point
}

func newHashMap() *hashMap {
	m := &hashMap{}
	m.d.Set(edwardsD())
	m.one.One()
	m.minusOne.Negate(&m.one)
	// SQRT_M1: the non-negative square root of -1.
	m.sqrtM1.SqrtRatio(&m.minusOne, &m.one)
	// ONE_MINUS_D_SQ = 1 - d², D_MINUS_ONE_SQ = (d - 1)².
	m.oneMinusDSq.Square(&m.d)
	m.oneMinusDSq.Subtract(&m.one, &m.oneMinusDSq)
	m.dMinusOneSq.Subtract(&m.d, &m.one)
	m.dMinusOneSq.Square(&m.dMinusOneSq)
	// SQRT_AD_MINUS_ONE = sqrt(a·d - 1) with a = -1: the non-negative root.
	m.tmp.Negate(&m.d)
	m.tmp.Subtract(&m.tmp, &m.one)
	m.sqrtADMinusOne.SqrtRatio(&m.tmp, &m.one)
	return m
}

// mapToPoint sets p to RFC 9496's MAP(t) (section 4.3.4) for the field
// element t read from 32 bytes with the top bit masked.
func (m *hashMap) mapToPoint(p *edwards25519.Point, b []byte) error {
	if _, err := m.t.SetBytes(b); err != nil { // masks bit 255, reduces mod p
		return err
	}
	m.r.Square(&m.t)
	m.r.Multiply(&m.r, &m.sqrtM1) // r = SQRT_M1·t²
	m.u.Add(&m.r, &m.one)
	m.u.Multiply(&m.u, &m.oneMinusDSq) // u = (r+1)·ONE_MINUS_D_SQ
	m.tmp.Multiply(&m.r, &m.d)
	m.v.Subtract(&m.minusOne, &m.tmp) // -1 - r·D
	m.tmp.Add(&m.r, &m.d)
	m.v.Multiply(&m.v, &m.tmp) // v = (-1 - r·D)·(r + D)
	_, wasSquare := m.s.SqrtRatio(&m.u, &m.v)
	m.sPrime.Multiply(&m.s, &m.t)
	m.sPrime.Absolute(&m.sPrime)
	m.sPrime.Negate(&m.sPrime) // s' = -CT_ABS(s·t)
	m.s.Select(&m.s, &m.sPrime, wasSquare)
	m.c.Select(&m.minusOne, &m.r, wasSquare)
	m.n.Subtract(&m.r, &m.one)
	m.n.Multiply(&m.n, &m.c)
	m.n.Multiply(&m.n, &m.dMinusOneSq)
	m.n.Subtract(&m.n, &m.v) // N = c·(r-1)·D_MINUS_ONE_SQ - v
	m.tmp.Square(&m.s)
	m.w0.Multiply(&m.s, &m.v)
	m.w0.Add(&m.w0, &m.w0) // w0 = 2·s·v
	m.w1.Multiply(&m.n, &m.sqrtADMinusOne)
	m.w2.Subtract(&m.one, &m.tmp) // 1 - s²
	m.w3.Add(&m.one, &m.tmp)      // 1 + s²
	m.x.Multiply(&m.w0, &m.w3)
	m.y.Multiply(&m.w2, &m.w1)
	m.z.Multiply(&m.w1, &m.w3)
	m.tt.Multiply(&m.w0, &m.w2)
	_, err := p.SetExtendedCoordinates(&m.x, &m.y, &m.z, &m.tt)
	return err
}

// hashToU writes to dst (32 bytes) the u-coordinate of the hash of the 64
// uniform bytes b.
func (m *hashMap) hashToU(dst, b []byte) error {
	if err := m.mapToPoint(&m.p1, b[:32]); err != nil {
		return err
	}
	if err := m.mapToPoint(&m.p2, b[32:64]); err != nil {
		return err
	}
	m.p1.Add(&m.p1, &m.p2)
	copy(dst, m.p1.BytesMontgomery())
	return nil
}
