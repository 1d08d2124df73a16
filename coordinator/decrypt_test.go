package coordinator

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mpcq/mpcq/internal/transport"
	"github.com/mpcq/mpcq/mpc/chainsig"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

func TestCollectShares(t *testing.T) {
	raw := [][]byte{[]byte("total-0"), []byte("total-1"), []byte("total-2")}
	honest := func(name string) func(*pb.DecryptShareRequest) (*pb.DecryptShareReply, error) {
		return func(r *pb.DecryptShareRequest) (*pb.DecryptShareReply, error) {
			var out [][]byte
			for i := range r.Ciphertexts {
				out = append(out, fmt.Appendf(nil, "%s/%d", name, int(r.Offset)+i))
			}
			return &pb.DecryptShareReply{Shares: out}, nil
		}
	}
	short := func(r *pb.DecryptShareRequest) (*pb.DecryptShareReply, error) {
		return &pb.DecryptShareReply{Shares: [][]byte{[]byte("one")}}, nil
	}
	cases := []struct {
		name      string
		utility   func(*pb.DecryptShareRequest) (*pb.DecryptShareReply, error)
		wantParty string
	}{
		{"every party answers", honest("utility"), ""},
		{"a party answers too few shares", short, "utility"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var seen []*pb.DecryptShareRequest
			record := func(f func(*pb.DecryptShareRequest) (*pb.DecryptShareReply, error)) func(*pb.DecryptShareRequest) (*pb.DecryptShareReply, error) {
				return func(r *pb.DecryptShareRequest) (*pb.DecryptShareReply, error) {
					mu.Lock()
					seen = append(seen, r)
					mu.Unlock()
					return f(r)
				}
			}
			s := &Server{parties: []*partyConn{
				{name: "bank", client: &fakeParty{decrypt: record(honest("bank"))}},
				{name: "utility", client: &fakeParty{decrypt: record(tc.utility)}},
			}}
			sent := newByteCount()
			req := &pb.DecryptShareRequest{QueryId: "q-test", LedgerIndex: 7}
			sigs := [][]byte{[]byte("s0"), []byte("s1"), []byte("s2")}
			shares, err := s.collectShares(context.Background(), req, raw, sigs, sent)
			if tc.wantParty != "" {
				if partyOf(err) != tc.wantParty || !strings.Contains(err.Error(), "1 decryption shares for 3") {
					t.Fatalf("got %v, want a failure of %s", err, tc.wantParty)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, m := range shares {
				for _, n := range []string{"bank", "utility"} {
					if want := fmt.Sprintf("%s/%d", n, i); string(m[n]) != want {
						t.Errorf("share %d of %s is %q, want %q", i, n, m[n], want)
					}
				}
			}
			if got := sent.of([]string{"bank", "utility"}); !slices.Equal(got, []uint64{18, 27}) {
				t.Errorf("bytes sent %v", got)
			}
			for _, r := range seen {
				if r.QueryId != "q-test" || r.LedgerIndex != 7 || len(r.Ciphertexts) != 3 || len(r.PackedSignatures) != 3 || string(r.PackedSignatures[2]) != "s2" {
					t.Errorf("request %v lacks the query's fields", r)
				}
			}
			if req.Ciphertexts != nil {
				t.Error("the shared request was modified")
			}
		})
	}
}

func TestResultParts(t *testing.T) {
	big := make([]byte, transport.MaxBatchBytes/2+1)
	cases := []struct {
		name string
		cts  [][]byte
		want []int // ciphertexts per message
	}{
		{"one message", [][]byte{[]byte("a"), []byte("b")}, []int{2}},
		{"one per message", [][]byte{big, big, big}, []int{1, 1, 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &pb.QueryResult{QueryId: "q-test", Chain: []string{"bank"}, SumCiphertexts: tc.cts, LedgerIndex: 9}
			parts := resultParts(r)
			if len(parts) != len(tc.want) {
				t.Fatalf("%d messages, want %d", len(parts), len(tc.want))
			}
			off := 0
			for i, p := range parts {
				if len(p.SumCiphertexts) != tc.want[i] || int(p.Offset) != off || int(p.Total) != len(tc.cts) || p.QueryId != "q-test" || p.LedgerIndex != 9 {
					t.Errorf("message %d: %d ciphertexts at %d of %d", i, len(p.SumCiphertexts), p.Offset, p.Total)
				}
				off += len(p.SumCiphertexts)
			}
		})
	}
}

func TestResultEntry(t *testing.T) {
	switched := [][]byte{[]byte("ab"), []byte("c")}
	packed := [][]byte{[]byte("packed")}
	e := resultEntry("q-test", []string{"bank", "telecom"}, packed, switched)
	if e.QueryID != "q-test" || !slices.Equal(e.Parties, []string{"bank", "telecom"}) || e.CiphertextHash != sha256.Sum256([]byte("abc")) {
		t.Fatalf("entry %+v", e)
	}
	if e.PackedHash != chainsig.CiphertextsHash(packed) || e.PackedHash == chainsig.CiphertextsHash(switched) {
		t.Fatalf("packed hash %x is not the hash of the packed ciphertexts", e.PackedHash)
	}
}
