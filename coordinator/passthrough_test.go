package coordinator

import (
	"bytes"
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// TestPassthrough: a frame carries a message's wire bytes unchanged from
// receive to send (an empty message too), and every other message is
// protocol buffers as usual.
func TestPassthrough(t *testing.T) {
	c := newPassthrough()
	for _, m := range []*pb.BlockMessage{
		{Block: 7, Offset: 1, Total: 2, Ciphertexts: [][]byte{bytes.Repeat([]byte{0xab}, 1<<20)}, Signature: []byte("sig")},
		{},
	} {
		wire, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		in := mem.BufferSlice{mem.SliceBuffer(bytes.Clone(wire))}
		var f frame
		if err := c.Unmarshal(in, &f); err != nil {
			t.Fatal(err)
		}
		in.Free() // gRPC frees its reference when Unmarshal returns
		if f.Len() != len(wire) {
			t.Fatalf("frame of %d bytes, message of %d", f.Len(), len(wire))
		}
		out, err := c.Marshal(&f)
		if err != nil {
			t.Fatal(err)
		}
		if got := out.Materialize(); !bytes.Equal(got, wire) {
			t.Fatalf("relayed %d bytes differ from the %d received", len(got), len(wire))
		}
		out.Free()
		var back pb.BlockMessage
		if err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(wire)}, &back); err != nil || !proto.Equal(&back, m) {
			t.Fatalf("proto path: %v, equal %v", err, proto.Equal(&back, m))
		}
	}
}
