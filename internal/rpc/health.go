package rpc

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/mpcq/mpcq/internal/sdnotify"
)

// openPrefixes are the services any consortium member may call, whatever
// roles the daemon's business services admit: the standard health service
// (probes, load balancers, an operator with any member certificate) and
// server reflection (grpcurl and similar tools; it only describes the
// public .proto).
var openPrefixes = []string{
	"/" + healthpb.Health_ServiceDesc.ServiceName + "/",
	"/grpc.reflection.v1.ServerReflection/",
	"/grpc.reflection.v1alpha.ServerReflection/",
}

// isOpen reports whether method (a full gRPC method name) belongs to a
// service any consortium member may call.
func isOpen(method string) bool {
	for _, p := range openPrefixes {
		if strings.HasPrefix(method, p) {
			return true
		}
	}
	return false
}

// Health is a daemon's readiness as the standard gRPC health service
// reports it: for the whole server (service "") and for the daemon's
// business service by name. It starts NOT_SERVING; the daemon calls
// SetReady as its state changes.
//
// Under systemd (Type=notify) it also tells systemd: READY=1 when the
// server is registered and about to serve (see RegisterOps), a STATUS line
// at each change, and STOPPING=1 at Shutdown. The daemon is "ready" for
// systemd once it accepts connections; whether it serves queries (after
// the key ceremony and alignment, which need the other members) is the
// health status, shown in the STATUS line.
type Health struct {
	srv     *health.Server
	service string
	mu      sync.Mutex
	ready   bool
}

// NewHealth returns a Health for the named business service (e.g.
// "mpcq.v1.Coordinator"), NOT_SERVING.
func NewHealth(service string) *Health {
	h := &Health{srv: health.NewServer(), service: service}
	h.SetReady(false)
	return h
}

// SetReady sets both the server's and the business service's status:
// SERVING when ready, NOT_SERVING otherwise. Watchers see each change.
func (h *Health) SetReady(ready bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if ready {
		st = healthpb.HealthCheckResponse_SERVING
	}
	h.srv.SetServingStatus("", st)
	h.srv.SetServingStatus(h.service, st)
	h.mu.Lock()
	changed := h.ready != ready
	h.ready = ready
	h.mu.Unlock()
	if changed {
		// A failed notification is not the daemon's failure: systemd
		// reports a readiness it never got (start timeout) by itself.
		_, _ = sdnotify.Status(h.statusText(ready))
	}
}

func (h *Health) statusText(ready bool) string {
	if ready {
		return h.service + ": SERVING"
	}
	return h.service + ": NOT_SERVING (waiting for the key ceremony and record alignment)"
}

// Server is the health service implementation (for tests and Register).
func (h *Health) Server() healthpb.HealthServer { return h.srv }

// Shutdown sets every status to NOT_SERVING for good, so that probes and
// load balancers stop sending calls while the server drains.
func (h *Health) Shutdown() {
	h.srv.Shutdown()
	_, _ = sdnotify.Stopping(h.service + ": draining calls in flight")
}

// RegisterOps registers the health service (h) and server reflection on
// gs. Call it after the business services are registered, so that
// reflection lists them, and just before serving on a bound listener: it
// tells systemd the daemon is ready (accepts connections).
func RegisterOps(gs *grpc.Server, h *Health) {
	healthpb.RegisterHealthServer(gs, h.srv)
	reflection.Register(gs)
	h.mu.Lock()
	ready := h.ready
	h.mu.Unlock()
	_, _ = sdnotify.Ready(h.statusText(ready))
}

// ServeHealth serves only the health service h, without TLS, on addr
// until ctx is done: for probes that cannot present a client certificate
// (Kubernetes' gRPC probes speak plaintext). It reveals SERVING or
// NOT_SERVING and nothing else; bind it to the pod or host network only.
// ready, if not nil, receives the bound address once listening.
func ServeHealth(ctx context.Context, addr string, h *Health, grace time.Duration, ready func(net.Addr)) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("health listener: %w", err)
	}
	if ready != nil {
		ready(lis.Addr())
	}
	gs := grpc.NewServer()
	healthpb.RegisterHealthServer(gs, h.srv)
	errc := make(chan error, 1)
	go func() { errc <- gs.Serve(lis) }()
	select {
	case err := <-errc:
		return fmt.Errorf("health server: %w", err)
	case <-ctx.Done():
		StopGracefully(gs, grace)
		return nil
	}
}
