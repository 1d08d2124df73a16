package pki

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// ErrUnauthenticated is wrapped when a caller presented no verified
// certificate carrying a valid identity. Handlers map it to
// codes.Unauthenticated.
var ErrUnauthenticated = errors.New("pki: caller not authenticated")

// ErrForbidden is wrapped when an authenticated caller's role may not do
// what it asked. Handlers map it to codes.PermissionDenied.
var ErrForbidden = errors.New("pki: forbidden for this role")

// PeerIdentity returns the identity of the peer of a gRPC call: the leaf of
// the first verified chain of its mutual-TLS connection. It works in server
// handlers and interceptors, and on the client with a peer from grpc.Peer.
func PeerIdentity(ctx context.Context) (Identity, error) {
	p, ok := peer.FromContext(ctx)
	if !ok || p == nil {
		return Identity{}, fmt.Errorf("%w: no gRPC peer in the context (not inside a gRPC call?)", ErrUnauthenticated)
	}
	var info credentials.TLSInfo
	switch ai := p.AuthInfo.(type) {
	case credentials.TLSInfo:
		info = ai
	case *credentials.TLSInfo:
		if ai == nil {
			return Identity{}, fmt.Errorf("%w: the connection from %v is not TLS", ErrUnauthenticated, p.Addr)
		}
		info = *ai
	default:
		return Identity{}, fmt.Errorf("%w: the connection from %v is not TLS (auth %T); serve with pki.ServerConfig credentials",
			ErrUnauthenticated, p.Addr, p.AuthInfo)
	}
	chains := info.State.VerifiedChains
	if len(chains) == 0 || len(chains[0]) == 0 {
		return Identity{}, fmt.Errorf("%w: the peer at %v presented no verified certificate", ErrUnauthenticated, p.Addr)
	}
	id, err := IdentityOf(chains[0][0])
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %w", ErrUnauthenticated, err)
	}
	return id, nil
}

// RequireRole returns the caller's identity if its role is one of roles.
// An unauthenticated caller gets an error wrapping ErrUnauthenticated; an
// authenticated caller in another role gets its identity (for logging) and
// an error wrapping ErrForbidden.
func RequireRole(ctx context.Context, roles ...Role) (Identity, error) {
	id, err := PeerIdentity(ctx)
	if err != nil {
		return Identity{}, err
	}
	if !slices.Contains(roles, id.Role) {
		return id, fmt.Errorf("%w: %s may not call this; allowed roles: %v", ErrForbidden, id, roles)
	}
	return id, nil
}
