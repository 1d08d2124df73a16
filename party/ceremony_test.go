package party

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mpcq/mpcq/mpc"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// TestShareCollector: a party aggregates the rotation keys itself from
// every party's signed shares, and refuses a share the coordinator
// altered, made, moved to another element or party, or sent twice.
func TestShareCollector(t *testing.T) {
	params, err := mpc.NewParams(testSet)
	if err != nil {
		t.Fatal(err)
	}
	priv, pub := chainKeys()
	parties := []string{"ta", "tb", "tc"}
	seed := [32]byte{9}
	els := params.GaloisElements()
	var msgs []*pb.RotationKey
	for _, el := range els {
		for _, name := range parties {
			sk := params.NewSecretKey()
			share, err := params.GenGaloisKeyShare(sk, seed, el)
			if err != nil {
				t.Fatal(err)
			}
			msgs = append(msgs, &pb.RotationKey{CeremonyId: "c-1", GaloisElement: el, Party: name, Share: share,
				Signature: ed25519.Sign(priv[name], shareStatement("c-1", name, el, share))})
		}
	}
	run := func(ms []*pb.RotationKey) ([]byte, error) {
		c := newShareCollector(params, seed, "c-1", parties, pub)
		for _, m := range ms {
			if err := c.add(m); err != nil {
				return nil, err
			}
		}
		_, raw, err := c.done()
		return raw, err
	}
	raw, err := run(msgs)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) == 0 {
		t.Fatal("no rotation keys")
	}
	if _, err := decodeRotationKeys(params, raw); err != nil {
		t.Fatalf("stored keys do not decode: %v", err)
	}
	mut := func(i int, f func(m *pb.RotationKey)) []*pb.RotationKey {
		out := make([]*pb.RotationKey, len(msgs))
		copy(out, msgs)
		m := proto.Clone(msgs[i]).(*pb.RotationKey)
		m.Share = bytes.Clone(m.Share)
		f(m)
		out[i] = m
		return out
	}
	_, coordPriv, _ := ed25519.GenerateKey(nil)
	for _, tc := range []struct {
		name string
		ms   []*pb.RotationKey
		want error
	}{
		{"a share altered by the coordinator (b + δ)", mut(1, func(m *pb.RotationKey) { m.Share[0] ^= 1 }), ErrBadShare},
		{"a share signed by the coordinator", mut(1, func(m *pb.RotationKey) {
			m.Signature = ed25519.Sign(coordPriv, shareStatement("c-1", m.Party, m.GaloisElement, m.Share))
		}), ErrBadShare},
		{"a share attributed to another party", mut(1, func(m *pb.RotationKey) { m.Party = "tc" }), ErrBadRequest},
		{"a share moved to another element", mut(0, func(m *pb.RotationKey) { m.GaloisElement = els[1] }), ErrBadShare},
		{"a share of another ceremony", mut(0, func(m *pb.RotationKey) { m.CeremonyId = "c-2" }), ErrBadRequest},
		{"a share from outside the ceremony", mut(0, func(m *pb.RotationKey) { m.Party = "mallory" }), ErrBadRequest},
		{"unsigned", mut(2, func(m *pb.RotationKey) { m.Signature = nil }), ErrBadShare},
		{"a share missing", msgs[:len(msgs)-1], ErrBadRequest},
		{"a share twice", append(append([]*pb.RotationKey{}, msgs[:1]...), msgs...), ErrBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := run(tc.ms); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}
