// Package rpc holds what both daemons and the CLIs need around gRPC: server
// and client options (mutual TLS, deliberate message sizes, keepalives),
// the interceptor chain (logging → recovery → role check) and the one place
// where domain errors become gRPC status codes.
package rpc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	"github.com/mpcq/mpcq/internal/transport"
	"github.com/mpcq/mpcq/mpc"
	"github.com/mpcq/mpcq/pki"
	"github.com/mpcq/mpcq/plan"
)

// Mapping registers one of a daemon's sentinel errors with the gRPC code
// it becomes. A daemon's table holds only its own sentinels: what every
// daemon shares is in Code.
type Mapping struct {
	Err  error
	Code codes.Code
}

// Code is the one error map: the gRPC code err becomes at a daemon's
// boundary. In order:
//
//   - an error that carries a status (a peer's answer passed on) keeps
//     its code;
//   - every query error of the planner (a *plan.Error, with its position,
//     and plan.ErrOverflow, plan.ErrUnknownName from the bounds check) is
//     InvalidArgument;
//   - the daemon's own sentinels, as registered in mappings (first match);
//   - then the classes every daemon shares: undecodable request bytes
//     (mpc.ErrMalformed) are InvalidArgument, context
//     errors DeadlineExceeded/Canceled, pki.ErrForbidden PermissionDenied,
//     pki.ErrUnauthenticated Unauthenticated;
//   - anything else is Internal.
//
// A daemon whose sentinel wraps one of the shared classes but means
// something else (a party's bad value is the party's failure, not the
// caller's bad request) registers that sentinel in mappings.
func Code(err error, mappings ...Mapping) codes.Code {
	if err == nil {
		return codes.OK
	}
	if st, ok := status.FromError(err); ok {
		return st.Code()
	}
	var pe *plan.Error
	if errors.As(err, &pe) || errors.Is(err, plan.ErrOverflow) || errors.Is(err, plan.ErrUnknownName) {
		return codes.InvalidArgument
	}
	for _, m := range mappings {
		if errors.Is(err, m.Err) {
			return m.Code
		}
	}
	switch {
	case errors.Is(err, mpc.ErrMalformed):
		return codes.InvalidArgument
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	case errors.Is(err, pki.ErrForbidden):
		return codes.PermissionDenied
	case errors.Is(err, pki.ErrUnauthenticated):
		return codes.Unauthenticated
	}
	return codes.Internal
}

// ToStatus turns err into a gRPC status error with the code Code gives and
// err's message. Errors that already carry a status are returned as they
// are. Handlers call it once, on the way out.
func ToStatus(err error, mappings ...Mapping) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(Code(err, mappings...), err.Error())
}

// Transport sizes. A query's chain streams about 1 MiB per block through
// every hop: buffers of 256 KiB write and read a block in a few system
// calls instead of 32 (gRPC's default is 32 KiB), and windows of 8 MiB per
// stream (32 MiB per connection) let a sender keep several blocks in
// flight without waiting for window updates (gRPC's default starts at
// 64 KiB and grows by estimating the bandwidth-delay product).
const (
	ioBufferBytes     = 256 << 10
	streamWindowBytes = 8 << 20
	connWindowBytes   = 32 << 20
)

// ServerOptions returns the options of a daemon's gRPC server: mutual TLS,
// message limits, keepalive, and the interceptor chain. Every call to the
// daemon's business services must come from a certificate with one of the
// allowed roles; with none allowed, every such call is refused. The health
// service and server reflection (RegisterOps) admit a certificate of any
// consortium role, and nothing else.
func ServerOptions(tc *tls.Config, log zerolog.Logger, allowed ...pki.Role) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.Creds(credentials.NewTLS(tc)),
		grpc.MaxRecvMsgSize(transport.MaxMessageBytes),
		grpc.MaxSendMsgSize(transport.MaxMessageBytes),
		grpc.WriteBufferSize(ioBufferBytes), grpc.ReadBufferSize(ioBufferBytes),
		grpc.InitialWindowSize(streamWindowBytes), grpc.InitialConnWindowSize(connWindowBytes),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		grpc.ChainUnaryInterceptor(unaryLog(log), unaryRecover(log), unaryRole(allowed)),
		grpc.ChainStreamInterceptor(streamLog(log), streamRecover(log), streamRole(allowed)),
	}
}

// Dial connects to a daemon with mutual TLS and the shared message limits.
func Dial(addr string, tc *tls.Config, extra ...grpc.DialOption) (*grpc.ClientConn, error) {
	opts := append([]grpc.DialOption{
		grpc.WithTransportCredentials(credentials.NewTLS(tc)),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(transport.MaxMessageBytes), grpc.MaxCallSendMsgSize(transport.MaxMessageBytes)),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 20 * time.Second, Timeout: 10 * time.Second, PermitWithoutStream: true}),
		grpc.WithWriteBufferSize(ioBufferBytes), grpc.WithReadBufferSize(ioBufferBytes),
		grpc.WithInitialWindowSize(streamWindowBytes), grpc.WithInitialConnWindowSize(connWindowBytes),
	}, extra...)
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	return conn, nil
}

func caller(ctx context.Context) string {
	id, err := pki.PeerIdentity(ctx)
	if err != nil {
		return "unauthenticated"
	}
	return id.String()
}

// logCall logs one finished call: a failure as a warning; a success at
// info, except polls (status, health, reflection), which run every few
// seconds and are logged at debug.
func logCall(log zerolog.Logger, ctx context.Context, method string, start time.Time, err error) {
	ev := log.Info()
	if isPoll(method) {
		ev = log.Debug()
	}
	if err != nil {
		ev = log.Warn().Str("code", status.Code(err).String()).Str("error", status.Convert(err).Message())
	}
	ev.Str("method", method).Str("caller", caller(ctx)).Float64("elapsed_s", time.Since(start).Seconds()).Msg("rpc")
}

// isPoll reports whether method is polled: a Status method, or an open
// service (health, reflection).
func isPoll(method string) bool { return strings.HasSuffix(method, "/Status") || isOpen(method) }

func unaryLog(log zerolog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := h(ctx, req)
		logCall(log, ctx, info.FullMethod, start, err)
		return resp, err
	}
}

func streamLog(log zerolog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		start := time.Now()
		err := h(srv, ss)
		logCall(log, ss.Context(), info.FullMethod, start, err)
		return err
	}
}

func unaryRecover(log zerolog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if r := recover(); r != nil {
				log.Error().Str("method", info.FullMethod).Str("panic", fmt.Sprint(r)).Str("stack", string(debug.Stack())).Msg("recovered panic")
				err = status.Errorf(codes.Internal, "internal error in %s", info.FullMethod)
			}
		}()
		return h(ctx, req)
	}
}

func streamRecover(log zerolog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
		defer func() {
			if r := recover(); r != nil {
				log.Error().Str("method", info.FullMethod).Str("panic", fmt.Sprint(r)).Str("stack", string(debug.Stack())).Msg("recovered panic")
				err = status.Errorf(codes.Internal, "internal error in %s", info.FullMethod)
			}
		}()
		return h(srv, ss)
	}
}

// checkRole admits a caller of method whose role is one of allowed, or of
// any consortium role when method belongs to an open service (health,
// reflection). It fails closed: a server given no roles admits nobody
// rather than everybody to its business services.
func checkRole(ctx context.Context, method string, allowed []pki.Role) error {
	if isOpen(method) {
		_, err := pki.RequireRole(ctx, pki.Roles()...)
		return ToStatus(err)
	}
	if len(allowed) == 0 {
		return status.Error(codes.PermissionDenied, "this server admits no role; it was started without its allowed roles")
	}
	_, err := pki.RequireRole(ctx, allowed...)
	return ToStatus(err)
}

func unaryRole(allowed []pki.Role) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if err := checkRole(ctx, info.FullMethod, allowed); err != nil {
			return nil, err
		}
		return h(ctx, req)
	}
}

func streamRole(allowed []pki.Role) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		if err := checkRole(ss.Context(), info.FullMethod, allowed); err != nil {
			return err
		}
		return h(srv, ss)
	}
}

// StopGracefully stops gs, letting calls in flight finish for at most
// grace, then stops it hard.
func StopGracefully(gs *grpc.Server, grace time.Duration) {
	done := make(chan struct{})
	go func() { gs.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		gs.Stop()
	}
}
