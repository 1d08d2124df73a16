package coordinator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/mpcq/mpcq/internal/gen"
	"github.com/mpcq/mpcq/internal/wire"
	"github.com/mpcq/mpcq/plan"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// reply is what a fake stream's Recv returns next.
type reply struct {
	m   *pb.BlockMessage
	err error
}

// fakeStep is a party's QueryStep stream without a socket: Recv plays a
// script, Send records (or fails), CloseSend is noted.
type fakeStep struct {
	grpc.ClientStream // unused methods
	mu                sync.Mutex
	script            []reply
	sent              []*pb.BlockMessage
	sendErr           error // for every Send after the header
	closed            bool
}

func (f *fakeStep) Send(m *pb.BlockMessage) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sendErr != nil && len(f.sent) > 0 {
		return f.sendErr
	}
	f.sent = append(f.sent, m)
	return nil
}

func (f *fakeStep) Recv() (*pb.BlockMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.script) == 0 {
		return nil, io.EOF
	}
	r := f.script[0]
	f.script = f.script[1:]
	return r.m, r.err
}

// RecvMsg and SendMsg carry the relay's frames through the passthrough
// codec, as gRPC does: a frame holds the wire bytes of a scripted message,
// and a sent frame is decoded back into the message the party would get.
func (f *fakeStep) RecvMsg(v any) error {
	fr, ok := v.(*frame)
	if !ok {
		return fmt.Errorf("fake RecvMsg of %T", v)
	}
	m, err := f.Recv()
	if err != nil {
		return err
	}
	c := newPassthrough()
	b, err := c.proto.Marshal(m)
	if err != nil {
		return err
	}
	defer b.Free()
	return c.Unmarshal(b, fr)
}

func (f *fakeStep) SendMsg(v any) error {
	c := newPassthrough()
	b, err := c.Marshal(v)
	if err != nil {
		return err
	}
	defer b.Free()
	var m pb.BlockMessage
	if err := c.proto.Unmarshal(b, &m); err != nil {
		return err
	}
	return f.Send(&m)
}

func (f *fakeStep) CloseSend() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

// fakeParty is a party client whose QueryStep returns a fake stream and
// whose DecryptShare answers from a function.
type fakeParty struct {
	pb.PartyClient // unused methods
	step           *fakeStep
	decrypt        func(*pb.DecryptShareRequest) (*pb.DecryptShareReply, error)
}

func (p *fakeParty) QueryStep(context.Context, ...grpc.CallOption) (grpc.BidiStreamingClient[pb.BlockMessage, pb.BlockMessage], error) {
	return p.step, nil
}

func (p *fakeParty) DecryptShare(_ context.Context, r *pb.DecryptShareRequest, _ ...grpc.CallOption) (*pb.DecryptShareReply, error) {
	return p.decrypt(r)
}

func block(cts ...[]byte) reply { return reply{m: &pb.BlockMessage{Ciphertexts: cts}} }

func outMapReply(m ...uint32) reply { return reply{m: &pb.BlockMessage{OutMap: m}} }

func TestRunChain(t *testing.T) {
	c := newTestConsortium(t)
	p := c.params
	sums := make([][]byte, 2)
	for i := range sums {
		var err error
		if sums[i], err = p.MarshalCiphertext(c.chainOutput(t, []uint64{uint64(i + 1)}, []uint64{2})); err != nil {
			t.Fatal(err)
		}
	}
	blocks := [][]byte{make([]byte, 100), make([]byte, 50)}
	canceled := reply{err: status.Error(codes.Canceled, "context canceled")}
	cases := []struct {
		name       string
		first      []reply
		last       []reply
		lastSend   error
		wantParty  string // "" means success
		wantSubstr string
	}{
		{"success",
			[]reply{outMapReply(0, 0, 0), block(blocks[0]), block(blocks[1])},
			[]reply{outMapReply(0, 1, 2), {m: &pb.BlockMessage{Offset: 0, Total: 2, Ciphertexts: sums[:1]}}, {m: &pb.BlockMessage{Offset: 1, Total: 2, Ciphertexts: sums[1:]}}},
			nil, "", ""},
		{"first party's bad output map",
			[]reply{outMapReply(0, 2, 2)}, []reply{outMapReply(0, 1, 2)}, nil, "telecom", "skips ciphertext 1"},
		{"last party fails, first sees the cancellation",
			[]reply{outMapReply(0, 0, 0), canceled},
			[]reply{outMapReply(0, 1, 2), {err: status.Error(codes.Unavailable, "connection reset")}},
			nil, "bank", "connection reset"},
		{"first party fails mid-stream",
			[]reply{outMapReply(0, 0, 0), block(blocks[0]), {err: errors.New("disk error")}},
			[]reply{outMapReply(0, 1, 2), canceled},
			nil, "telecom", "disk error"},
		{"last party stops listening",
			[]reply{outMapReply(0, 0, 0), block(blocks[0])},
			[]reply{outMapReply(0, 1, 2)},
			errors.New("stream closed"), "bank", "stopped receiving blocks"},
		{"packed totals sent twice",
			[]reply{outMapReply(0, 0, 0)},
			[]reply{outMapReply(0, 1, 2), {m: &pb.BlockMessage{Total: 2, Ciphertexts: sums[:1]}}, {m: &pb.BlockMessage{Offset: 1, Total: 2, Ciphertexts: sums[1:]}}, {m: &pb.BlockMessage{Total: 2, Ciphertexts: sums[:1]}}},
			nil, "bank", "sent twice"},
		{"no sums",
			[]reply{outMapReply(0, 0, 0)}, []reply{outMapReply(0, 1, 2)}, nil, "bank", "no result"},
		// A party that answers a map other than the plan's (valid in
		// itself) would wire another circuit: refused before any block.
		{"first party's map is not the plan's",
			[]reply{outMapReply(0, 1, 2)}, []reply{outMapReply(0, 1, 2)}, nil, "telecom", "the plan implies [0 0 0]"},
		{"sums that do not decode",
			[]reply{outMapReply(0, 0, 0)},
			[]reply{outMapReply(0, 1, 2), {m: &pb.BlockMessage{Total: 2, Ciphertexts: [][]byte{[]byte("junk")}}}, {m: &pb.BlockMessage{Offset: 1, Total: 2, Ciphertexts: sums[1:]}}},
			nil, "bank", "malformed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			first := &fakeStep{script: tc.first}
			last := &fakeStep{script: tc.last, sendErr: tc.lastSend}
			chain := []*partyConn{{name: "telecom", client: &fakeParty{step: first}}, {name: "bank", client: &fakeParty{step: last}}}
			header := &pb.QueryHeader{QueryId: "q-test", Chain: []string{"telecom", "bank"}, Plan: threeSums(t)}
			var progress []string
			res, err := runChain(context.Background(), p, header, chain, 3, 2, func(stage, _ string) { progress = append(progress, stage) })
			if tc.wantParty != "" {
				if err == nil || partyOf(err) != tc.wantParty || !errors.Is(err, ErrParty) || !strings.Contains(err.Error(), tc.wantSubstr) {
					t.Fatalf("got %v (party %q), want a failure of %s mentioning %q", err, partyOf(err), tc.wantParty, tc.wantSubstr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(res.packed) != 2 || len(res.sigs) != 2 || !slices.Equal(res.outMap, []uint32{0, 1, 2}) {
				t.Fatalf("%d finals, out map %v", len(res.packed), res.outMap)
			}
			// A party's bytes are its messages' (framing and signatures
			// included), relayed or received.
			size := func(rs []reply) (n uint64) {
				for _, r := range rs[1:] { // after the output map
					n += uint64(proto.Size(r.m))
				}
				return n
			}
			if got, want := res.sent.of([]string{"telecom", "bank"}), []uint64{size(tc.first), size(tc.last)}; want[0] < 150 || want[1] < uint64(len(sums[0])+len(sums[1])) || !slices.Equal(got, want) {
				t.Errorf("bytes sent %v, want %v", got, want)
			}
			// Headers: positions in order, each party gets the previous
			// party's output map; the blocks follow to the last party.
			if h := first.sent[0].Header; h.Position != 0 || h.InMap != nil || !first.closed {
				t.Errorf("first party: header %v, closed %v", h, first.closed)
			}
			if h := last.sent[0].Header; h.Position != 1 || !slices.Equal(h.InMap, []uint32{0, 0, 0}) {
				t.Errorf("last party: header %v", h)
			}
			if len(last.sent) != 3 || !last.closed {
				t.Errorf("last party got %d messages (closed %v), want the header and 2 blocks", len(last.sent), last.closed)
			}
			if header.Position != 0 || header.InMap != nil {
				t.Errorf("the shared header was modified: %v", header)
			}
		})
	}
}

// threeSums is a plan of three outputs over telecom then bank: COUNT and
// two sums of bank's columns, so telecom's outputs share one ciphertext
// ([0 0 0]) and bank's are three ([0 1 2]).
func threeSums(t *testing.T) *pb.Plan {
	t.Helper()
	_, pp, err := wire.Compile("SELECT COUNT(*), SUM(bank.cash_deposits_30d), SUM(bank.accounts) FROM telecom JOIN bank USING (person_id) WHERE telecom.flagged_calls_30d > 0",
		gen.Consortium(), plan.Limits{Modulus: 1 << 45, Entities: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return pp
}

func TestCheckOutMap(t *testing.T) {
	cases := []struct {
		name    string
		m       []uint32
		outputs int
		ok      bool
	}{
		{"dense", []uint32{0, 1, 0, 2}, 4, true},
		{"all shared", []uint32{0, 0, 0}, 3, true},
		{"wrong length", []uint32{0, 1}, 3, false},
		{"huge index", []uint32{0, 1 << 31}, 2, false},
		{"gap", []uint32{0, 2, 2}, 3, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := checkOutMap(tc.m, tc.outputs); (err == nil) != tc.ok {
				t.Fatalf("got %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestFirstCause(t *testing.T) {
	echo := partyFailed("telecom", status.Error(codes.Canceled, "context canceled"))
	cause := partyFailed("utility", status.Error(codes.Unavailable, "connection reset"))
	local := errors.New("local failure")
	cases := []struct {
		name string
		errs []error
		want error
	}{
		{"skips an echo", []error{echo, nil, cause}, cause},
		{"skips a bare cancellation", []error{context.Canceled, local}, local},
		{"only echoes: the first", []error{echo, context.Canceled}, echo},
		{"first real cause wins", []error{cause, local}, cause},
		{"none", []error{nil, nil}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := firstCause(tc.errs...); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	if partyOf(cause) != "utility" || !errors.Is(cause, ErrParty) || cause.Error() != "party failed: party utility: rpc error: code = Unavailable desc = connection reset" {
		t.Fatalf("a party error must name the party and match ErrParty: %v", cause)
	}
	if partyOf(local) != "" {
		t.Fatal("a local error names no party")
	}
}

func TestPackedAssemblyRefuses(t *testing.T) {
	ct := []byte("ct")
	cases := []struct {
		name string
		msgs []*pb.BlockMessage
		want string
	}{
		{"wrong total", []*pb.BlockMessage{{Total: 3, Ciphertexts: [][]byte{ct}}}, "announces 3"},
		{"out of range", []*pb.BlockMessage{{Offset: 2, Total: 2, Ciphertexts: [][]byte{ct}}}, "out of range"},
		{"empty message", []*pb.BlockMessage{{Total: 2}}, "one per message"},
		{"two in one message (one signature)", []*pb.BlockMessage{{Total: 2, Ciphertexts: [][]byte{ct, ct}}}, "one per message"},
		{"twice", []*pb.BlockMessage{{Total: 2, Ciphertexts: [][]byte{ct}}, {Offset: 1, Total: 2, Ciphertexts: [][]byte{ct}}, {Total: 2, Ciphertexts: [][]byte{ct}}}, "sent twice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newPackedAssembly(2)
			var err error
			for _, m := range tc.msgs {
				if err = a.add(m); err != nil {
					break
				}
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}
