package party

import (
	"crypto/ed25519"
	"testing"

	"github.com/mpcq/mpcq/mpc"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// BenchmarkRotationShares is a party's one-time added work at the key
// ceremony at the production parameters, three parties: check every
// party's signed rotation key shares and aggregate the rotation keys
// (`go test ./party -run '^$' -bench RotationShares`). It reports the
// bytes a party receives.
func BenchmarkRotationShares(b *testing.B) {
	params, err := mpc.NewParams(mpc.DefaultSetName)
	if err != nil {
		b.Fatal(err)
	}
	priv, pub := chainKeys()
	parties := []string{"ta", "tb", "tc"}
	seed := [32]byte{9}
	var msgs []*pb.RotationKey
	received := 0
	for _, name := range parties {
		sk := params.NewSecretKey()
		for _, el := range params.GaloisElements() {
			share, err := params.GenGaloisKeyShare(sk, seed, el)
			if err != nil {
				b.Fatal(err)
			}
			sig := ed25519.Sign(priv[name], shareStatement("c-1", name, el, share))
			msgs = append(msgs, &pb.RotationKey{CeremonyId: "c-1", GaloisElement: el, Party: name, Share: share, Signature: sig})
			received += len(share) + len(sig)
		}
	}
	for b.Loop() {
		c := newShareCollector(params, seed, "c-1", parties, pub)
		for _, m := range msgs {
			if err := c.add(m); err != nil {
				b.Fatal(err)
			}
		}
		if _, _, err := c.done(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(received)/(1<<20), "MiB-received")
	b.ReportMetric(float64(len(params.GaloisElements())), "keys")
}
