package e2e

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/mpcq/mpcq/coordinator"
	"github.com/mpcq/mpcq/internal/analyst"
	"github.com/mpcq/mpcq/internal/demo"
	"github.com/mpcq/mpcq/party"
)

// recorder keeps the bytes of every message the coordinator receives from
// the parties.
type recorder struct {
	mu   sync.Mutex
	msgs [][]byte
	n    int
}

func (r *recorder) add(m any) {
	if pm, ok := m.(proto.Message); ok {
		b, _ := proto.Marshal(pm)
		r.mu.Lock()
		r.msgs = append(r.msgs, b)
		r.n++
		r.mu.Unlock()
	}
}

type recordingStream struct {
	grpc.ClientStream
	r *recorder
}

func (s recordingStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err == nil {
		s.r.add(m)
	}
	return err
}

// TestNoPersonIDReachesTheCoordinator runs the coordinator in-process,
// records every message it receives from the three party processes through
// the ceremony, alignment and queries, and checks that no person id (nor
// its raw bytes) appears in any of them.
func TestNoPersonIDReachesTheCoordinator(t *testing.T) {
	dir := t.TempDir()
	// The fast insecure parameter set: this test is about what the messages
	// carry (and, under -race, the daemons' concurrency), not about the
	// cryptographic parameters, which the other end-to-end tests cover.
	l, err := demo.Setup(dir, demo.Options{People: 1500, Seed: 11, ParamSet: "insecure-test-n12", AllowInsecure: true, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	cl := demo.NewCluster(l, binDir)
	t.Cleanup(cl.Stop)
	// The bank runs in this process too, so that with -race the party's
	// concurrent query step is checked as well as the coordinator.
	pctx, pcancel := context.WithCancel(context.Background())
	pdone := make(chan error, 1)
	for _, name := range l.Parties {
		if name != "bank" {
			if err := cl.StartParty(name); err != nil {
				t.Fatal(err)
			}
			continue
		}
		pcfg, err := party.LoadConfig(l.PartyConfig(name))
		if err != nil {
			t.Fatal(err)
		}
		psrv, err := party.New(pcfg, zerolog.New(io.Discard))
		if err != nil {
			t.Fatal(err)
		}
		go func() { pdone <- psrv.Serve(pctx) }()
	}
	t.Cleanup(func() { pcancel(); <-pdone })
	rec := startRecordingCoordinator(t, l)
	waitReady(t, l)
	p, client, closeFn, err := l.Analyst()
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	qctx, qcancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer qcancel()
	for _, s := range demo.Samples()[:3] {
		if _, err := p.Query(qctx, client, analyst.Request{SQL: s.SQL}, nil); err != nil {
			t.Fatal(err)
		}
	}
	db, err := demo.LoadDB(l)
	if err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.n < 15 {
		t.Fatalf("only %d messages recorded: the recorder is not in the path", rec.n)
	}
	all := bytes.Join(rec.msgs, []byte{0})
	ids := 0
	for _, rows := range db.Tables {
		for id := range rows {
			ids++
			if bytes.Contains(all, []byte(id)) {
				t.Fatalf("a person id reached the coordinator")
			}
		}
	}
	// The recorder must have seen the alignment lists, whose elements stand
	// for the ids: at least 32 bytes per record of every party.
	if len(all) < 32*ids {
		t.Fatalf("recorded %d bytes, fewer than the %d of the blinded lists: the lists were not observed", len(all), 32*ids)
	}
	t.Logf("%d messages (%d MiB) checked against %d person ids", rec.n, len(all)>>20, ids)
}

// startRecordingCoordinator runs the coordinator in process, its party
// connections recording every message the parties send it, until the
// test ends.
func startRecordingCoordinator(t *testing.T, l *demo.Layout) *recorder {
	t.Helper()
	rec := &recorder{}
	unary := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, inv grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		err := inv(ctx, method, req, reply, cc, opts...)
		if err == nil {
			rec.add(reply)
		}
		return err
	}
	stream := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, s grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		cs, err := s(ctx, desc, cc, method, opts...)
		if err != nil {
			return nil, err
		}
		return recordingStream{cs, rec}, nil
	}
	cfg, err := coordinator.LoadConfig(l.CoordinatorConfig())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := coordinator.New(cfg, zerolog.New(io.Discard), coordinator.WithPartyDialOptions(
		grpc.WithChainUnaryInterceptor(unary), grpc.WithChainStreamInterceptor(stream)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done; srv.Close() })
	return rec
}
