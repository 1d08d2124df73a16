package party

import (
	"errors"
	"testing"

	"github.com/mpcq/mpcq/mpc/chainsig"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// TestCheckPacked is the check every party makes before a decryption
// share: the ciphertexts are the ones the chain's last party signed as the
// committed circuit's packed output of this query.
func TestCheckPacked(t *testing.T) {
	priv, pub := chainKeys()
	plan := [32]byte{7}
	chain := []string{"ta", "tb", "tc"}
	last := chainsig.Binding{QueryID: "q-1", PlanHash: plan, Position: 2}
	packed := []byte("packed-0")
	sum := []byte("an unpacked sum")
	good := func() *pb.DecryptShareRequest {
		return &pb.DecryptShareRequest{QueryId: "q-1", ChainLen: 3, Chain: chain, Ciphertexts: [][]byte{packed},
			PackedSignatures: [][]byte{chainsig.SignPacked(priv["tc"], last, 0, 1, packed)}}
	}
	other := last
	other.QueryID = "q-2"
	for _, tc := range []struct {
		name string
		f    func(*pb.DecryptShareRequest)
		ok   bool
	}{
		{"the signed packed output", func(*pb.DecryptShareRequest) {}, true},
		{"an unpacked sum with the last party's chain signature", func(r *pb.DecryptShareRequest) {
			r.Ciphertexts = [][]byte{sum}
			r.PackedSignatures = [][]byte{chainsig.Sign(priv["tc"], last, chainsig.Ref{Block: 0, Offset: 0, Total: 1}, [][]byte{sum})}
		}, false},
		{"a ciphertext of the coordinator's own, unsigned", func(r *pb.DecryptShareRequest) { r.Ciphertexts = [][]byte{sum} }, false},
		{"another query's packed output", func(r *pb.DecryptShareRequest) {
			r.PackedSignatures = [][]byte{chainsig.SignPacked(priv["tc"], other, 0, 1, packed)}
		}, false},
		{"another plan's", func(r *pb.DecryptShareRequest) {
			b := last
			b.PlanHash[0]++
			r.PackedSignatures = [][]byte{chainsig.SignPacked(priv["tc"], b, 0, 1, packed)}
		}, false},
		{"signed by a middle party", func(r *pb.DecryptShareRequest) {
			b := last
			b.Position = 1
			r.PackedSignatures = [][]byte{chainsig.SignPacked(priv["tb"], b, 0, 1, packed)}
		}, false},
		{"a chain naming the signer of another position last", func(r *pb.DecryptShareRequest) { r.Chain = []string{"ta", "tc", "tb"} }, false},
		{"no signature", func(r *pb.DecryptShareRequest) { r.PackedSignatures = nil }, false},
		{"an empty signature", func(r *pb.DecryptShareRequest) { r.PackedSignatures = [][]byte{nil} }, false},
		{"another packed index", func(r *pb.DecryptShareRequest) { r.Offset = 1 }, false},
		{"chain shorter than chain_len", func(r *pb.DecryptShareRequest) { r.Chain = chain[:2] }, false},
		{"chain naming a party twice", func(r *pb.DecryptShareRequest) { r.Chain = []string{"tc", "tb", "tc"} }, false},
		{"last party unknown", func(r *pb.DecryptShareRequest) { r.Chain = []string{"ta", "tb", "mallory"} }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := good()
			tc.f(r)
			err := checkPacked(r, plan, 1, pub)
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, chainsig.ErrNotPackedOutput)) {
				t.Fatalf("checkPacked: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
