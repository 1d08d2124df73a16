package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mpcq/mpcq/internal/analyst"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// session is a loaded profile and a connection to its coordinator.
type session struct {
	p      *analyst.Profile
	client pb.CoordinatorClient
	close  func()
}

// connect loads the profile and dials the coordinator (lazily: the first
// call connects).
func connect(dir string) (*session, error) {
	p, err := analyst.Load(dir)
	if err != nil {
		return nil, err
	}
	conn, client, err := p.Dial()
	if err != nil {
		return nil, fmt.Errorf("coordinator %s (%s): %w", p.Config.Coordinator, filepath.Join(p.Dir, analyst.ProfileFile), err)
	}
	return &session{p: p, client: client, close: func() { conn.Close() }}, nil
}

// hintError is an error said so that the analyst knows what to do; it
// wraps the error it explains.
type hintError struct {
	msg string
	err error
}

func (h *hintError) Error() string { return h.msg }
func (h *hintError) Unwrap() error { return h.err }

// explainErr turns the two failures an analyst can do something about
// from gRPC transport dumps into sentences: the coordinator cannot be
// reached (naming its address and where it is configured), or a party
// failed (naming the party). Other errors pass through, printed as the
// coordinator's message without the "rpc error: code = ..." wrapping.
func (s *session) explainErr(err error) error {
	return explainErr(err, s.p.Config.Coordinator, filepath.Join(s.p.Dir, analyst.ProfileFile))
}

func explainErr(err error, coordinator, profileFile string) error {
	// The innermost status: its message is the coordinator's (or the
	// transport's), without the wrapping text of the callers.
	var gs interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &gs) || gs.GRPCStatus() == nil {
		return err
	}
	st := gs.GRPCStatus()
	msg := st.Message()
	switch {
	case st.Code() == codes.Unavailable && strings.HasPrefix(msg, "party failed"):
		party, cause := partyOf(msg)
		if party == "" {
			return &hintError{fmt.Sprintf("a party failed: %s; run mpcq status to see which party is down", cause), err}
		}
		return &hintError{fmt.Sprintf("party %s failed: %s; its institution's partyd may be down or unreachable from the coordinator: ask its operator, and run mpcq status to see every party", party, cause), err}
	case st.Code() == codes.Unavailable && strings.HasPrefix(msg, "consortium not ready"):
		// e.g. "no party serves table utility": a party is down or not set up.
		return &hintError{fmt.Sprintf("%s; run mpcq status to see each party's state", msg), err}
	case st.Code() == codes.Unavailable && isTransport(msg):
		cause := transportCause(msg)
		hint := fmt.Sprintf("check that the coordinator is running and listening at %s, the address %s gives; mpcq status checks it", coordinator, profileFile)
		if strings.Contains(cause, "handshake") || strings.Contains(cause, "certificate") {
			hint = fmt.Sprintf("the server at %s is not the consortium's coordinator, or the profile's certificates do not match it: check the address in %s and the profile's ca.pem", coordinator, profileFile)
		}
		return &hintError{fmt.Sprintf("cannot reach the coordinator at %s: %s\n  %s", coordinator, cause, hint), err}
	case st.Code() == codes.DeadlineExceeded && isTransport(msg):
		return &hintError{fmt.Sprintf("no connection to the coordinator at %s in time: %s; check that it is running (mpcq status)", coordinator, transportCause(msg)), err}
	}
	if _, direct := err.(interface{ GRPCStatus() *status.Status }); direct {
		return &hintError{fmt.Sprintf("%s: %s", st.Code(), msg), err}
	}
	return err
}

// isTransport tells a client-side connection failure (the coordinator
// never answered) from an error the coordinator sent.
func isTransport(msg string) bool {
	return strings.HasPrefix(msg, "connection error") || strings.HasPrefix(msg, "name resolver error") ||
		strings.HasPrefix(msg, "last connection error") || strings.HasPrefix(msg, "transport:")
}

// transportCause strips gRPC's layers ("rpc error: code = ... desc = ",
// "connection error: desc = ", quotes, "transport: Error while
// dialing: ") off a transport error, leaving its cause, e.g. "dial tcp
// 127.0.0.1:7000: connect: connection refused".
func transportCause(msg string) string {
	for {
		before := msg
		msg = strings.TrimSpace(msg)
		if i := strings.Index(msg, " desc = "); i >= 0 && (strings.HasPrefix(msg, "rpc error:") || strings.HasPrefix(msg, "connection error:") || strings.HasPrefix(msg, "last connection error:")) {
			msg = msg[i+len(" desc = "):]
		}
		if u, err := strconv.Unquote(msg); err == nil {
			msg = u
		}
		msg = strings.TrimPrefix(msg, "transport: ")
		msg = strings.TrimPrefix(msg, "Error while dialing: ")
		msg = strings.TrimPrefix(msg, "error while dialing: ")
		if msg == before {
			return msg
		}
	}
}

// partyOf reads the party's name and the cause from the coordinator's
// "party failed: party NAME: cause" (coordinator.ErrParty wrapping an
// mpc.PartyError) or "party failed: party NAME at ADDR: cause".
func partyOf(msg string) (party, cause string) {
	rest := strings.TrimPrefix(strings.TrimPrefix(msg, "party failed"), ": ")
	if !strings.HasPrefix(rest, "party ") {
		return "", transportCause(rest)
	}
	rest = rest[len("party "):]
	end := strings.IndexAny(rest, ": ")
	if end <= 0 {
		return "", transportCause(msg)
	}
	party = rest[:end]
	if i := strings.Index(rest, ": "); i >= 0 {
		rest = rest[i+2:]
	}
	return party, transportCause(rest)
}
