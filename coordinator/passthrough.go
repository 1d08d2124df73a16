package coordinator

import (
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
)

// The chain relay forwards each block message from one party's stream to
// the next party's as the bytes it received, without decoding and
// re-encoding it: the coordinator neither reads nor changes a block (the
// parties sign and check them, chainsig), and decoding and re-encoding
// about 1 MiB per block and hop cost about a fifth of its CPU per query.

// frame is one message's wire bytes, held between a receive and a send.
type frame struct{ data mem.BufferSlice }

// Len is the message's size in bytes.
func (f *frame) Len() int { return f.data.Len() }

// release drops the frame's bytes when they are not sent on.
func (f *frame) release() {
	f.data.Free()
	f.data = nil
}

// passthrough is the relay streams' codec: protocol buffers for every
// message but a *frame, whose bytes go through as they are. Its name is
// the proto codec's, so the parties see the content type they expect.
type passthrough struct{ proto encoding.CodecV2 }

func newPassthrough() passthrough {
	return passthrough{proto: encoding.GetCodecV2(proto.Name)}
}

func (c passthrough) Name() string { return proto.Name }

// Marshal hands a frame's bytes to gRPC, which frees them once written:
// the frame's reference passes with them.
func (c passthrough) Marshal(v any) (mem.BufferSlice, error) {
	if f, ok := v.(*frame); ok {
		out := f.data // nil for an empty message: it goes through empty
		f.data = nil
		return out, nil
	}
	return c.proto.Marshal(v)
}

// Unmarshal keeps a reference to the received bytes for a frame (gRPC
// frees its own when this returns).
func (c passthrough) Unmarshal(data mem.BufferSlice, v any) error {
	if f, ok := v.(*frame); ok {
		data.Ref()
		f.data = data
		return nil
	}
	return c.proto.Unmarshal(data, v)
}

// relayCodec is the call option that gives a QueryStep stream the
// passthrough codec.
func relayCodec() grpc.CallOption { return grpc.ForceCodecV2(newPassthrough()) }
