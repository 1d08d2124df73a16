package ledger

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/mpcq/mpcq/ledger/witness"
	"github.com/transparency-dev/tessera"
	"golang.org/x/mod/sumdb/note"
)

// Cosigner is one party acting as a witness of the log. It mirrors a C2SP
// tlog-witness add-checkpoint request: the old size the log believes the
// party last cosigned, a consistency proof from that size to the new
// checkpoint's size, and the log-signed checkpoint. It returns the
// cosignature line(s) of the response body ("— <name> <base64>\n").
//
// Implementations (the coordinator's gRPC client to each party; LocalCosigner
// in-process) must report a wrong old size as an error wrapping a
// *witness.ConflictError carrying the party's size, so the log can resend
// the right proof; any other error is a refusal for this round, retried at
// the next checkpoint interval.
type Cosigner interface {
	// Name identifies the party in errors and logs.
	Name() string
	// Verifier verifies the party's cosignature/v1 signatures.
	Verifier() note.Verifier
	// AddCheckpoint asks the party to cosign checkpoint.
	AddCheckpoint(ctx context.Context, oldSize uint64, consistencyProof [][]byte, checkpoint []byte) (cosignature []byte, err error)
}

// LocalCosigner adapts an in-process witness (a party running in the same
// process as the log, or a test) to Cosigner.
func LocalCosigner(w *witness.Witness) Cosigner { return localCosigner{w} }

type localCosigner struct{ w *witness.Witness }

func (l localCosigner) Name() string            { return l.w.Name() }
func (l localCosigner) Verifier() note.Verifier { return l.w.Verifier() }
func (l localCosigner) AddCheckpoint(ctx context.Context, oldSize uint64, p [][]byte, cp []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return l.w.AddCheckpoint(oldSize, p, cp)
}

// cosignTransport is an http.RoundTripper that answers tessera's C2SP
// tlog-witness add-checkpoint POSTs by calling the Cosigner registered for
// the request's host, in process. It lets tessera's own witnessing code
// (policy, consistency proofs, 409 retry, fail-closed publication) drive
// our transport-agnostic Cosigners.
type cosignTransport struct {
	byHost map[string]Cosigner
	refs   *refusals
}

// maxRequest bounds an add-checkpoint body: a checkpoint plus at most 64
// proof hashes in base64.
const maxRequest = 64 << 10

func newCosignTransport(cosigners []Cosigner, log zerolog.Logger) (*cosignTransport, tessera.WitnessGroup) {
	t := &cosignTransport{byHost: make(map[string]Cosigner), refs: newRefusals(log, time.Now)}
	ws := make([]tessera.Witness, 0, len(cosigners))
	for i, c := range cosigners {
		host := fmt.Sprintf("cosigner-%d.invalid", i)
		t.byHost[host] = c
		ws = append(ws, tessera.Witness{Key: c.Verifier(), URL: "http://" + host + "/add-checkpoint"})
	}
	return t, allOf(ws)
}

// allOf is the policy "every cosigner".
func allOf(ws []tessera.Witness) tessera.WitnessGroup {
	switch len(ws) {
	case 0:
		return tessera.NewWitnessGroup(0)
	case 1:
		return tessera.NewWitnessGroup(1, ws[0])
	case 2:
		return tessera.NewWitnessGroup(2, ws[0], ws[1])
	}
	// NewWitnessGroup takes an unexported interface type; build the group
	// from nested pairs, which is "all of" all the same.
	return tessera.NewWitnessGroup(2, ws[0], allOf(ws[1:]))
}

// RoundTrip implements http.RoundTripper.
func (t *cosignTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		defer req.Body.Close()
	}
	c, ok := t.byHost[req.URL.Host]
	if !ok || req.Method != http.MethodPost || req.URL.Path != "/add-checkpoint" {
		return nil, fmt.Errorf("ledger cosigner transport: unexpected request %s %s", req.Method, req.URL)
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxRequest+1))
	if err != nil {
		return nil, fmt.Errorf("reading add-checkpoint request for %s: %w", c.Name(), err)
	}
	if len(body) > maxRequest {
		return respond(req, http.StatusBadRequest, "", "request too large\n"), nil
	}
	old, proof, cp, err := parseAddCheckpoint(body)
	if err != nil {
		return respond(req, http.StatusBadRequest, "", err.Error()+"\n"), nil
	}
	// After a refusal, rounds back off (Backoff) instead of asking every
	// checkpoint interval; the skipped round fails without calling anyone.
	if wait := t.refs.wait(); wait > 0 {
		return respond(req, http.StatusServiceUnavailable, "", fmt.Sprintf("backing off %v after cosigner refusals\n", wait.Round(time.Millisecond))), nil
	}
	sig, err := c.AddCheckpoint(req.Context(), old, proof, cp)
	t.record(c.Name(), cp, err)
	var conflict *witness.ConflictError
	switch {
	case err == nil:
		return respond(req, http.StatusOK, "", string(sig)), nil
	case errors.As(err, &conflict):
		return respond(req, http.StatusConflict, "text/x.tlog.size", fmt.Sprintf("%d\n", conflict.Size)), nil
	case errors.Is(err, witness.ErrBadProof):
		return respond(req, http.StatusUnprocessableEntity, "", err.Error()+"\n"), nil
	case errors.Is(err, witness.ErrFork):
		return respond(req, http.StatusConflict, "", err.Error()+"\n"), nil
	case errors.Is(err, witness.ErrRollback):
		return respond(req, http.StatusBadRequest, "", err.Error()+"\n"), nil
	case errors.Is(err, witness.ErrUnknownOrigin):
		return respond(req, http.StatusNotFound, "", err.Error()+"\n"), nil
	case errors.Is(err, witness.ErrBadSignature):
		return respond(req, http.StatusForbidden, "", err.Error()+"\n"), nil
	default:
		return respond(req, http.StatusServiceUnavailable, "", err.Error()+"\n"), nil
	}
}

// record notes a cosigner's answer for the backoff, the logs and Health.
// A conflict (wrong old size) is the protocol's normal resync, not a refusal.
func (t *cosignTransport) record(name string, cp []byte, err error) {
	var conflict *witness.ConflictError
	if errors.As(err, &conflict) {
		return
	}
	var size uint64
	if lines := bytes.SplitN(cp, []byte("\n"), 3); len(lines) == 3 {
		size, _ = strconv.ParseUint(string(lines[1]), 10, 64)
	}
	t.refs.record(name, size, err)
}

// refusals describes the current refusals, or "" if none.
func (t *cosignTransport) refusals() string { return t.refs.describe() }

// refusing lists the current refusals.
func (t *cosignTransport) refusing() []Refusal { return t.refs.refusing() }

func respond(req *http.Request, code int, contentType, body string) *http.Response {
	h := make(http.Header)
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", code, http.StatusText(code)),
		StatusCode:    code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}

// parseAddCheckpoint decodes a tlog-witness add-checkpoint body:
// "old <size>\n", zero or more base64 proof hashes one per line, an empty
// line, then the checkpoint note.
func parseAddCheckpoint(body []byte) (old uint64, proof [][]byte, cp []byte, err error) {
	r := bufio.NewReader(bytes.NewReader(body))
	line, err := r.ReadString('\n')
	if err != nil {
		return 0, nil, nil, errors.New("add-checkpoint: missing old size line")
	}
	sizeStr, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "old ")
	if !ok {
		return 0, nil, nil, fmt.Errorf("add-checkpoint: first line %q is not \"old <size>\"", line)
	}
	if old, err = strconv.ParseUint(sizeStr, 10, 64); err != nil || strconv.FormatUint(old, 10) != sizeStr {
		return 0, nil, nil, fmt.Errorf("add-checkpoint: old size %q is not a canonical decimal", sizeStr)
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return 0, nil, nil, errors.New("add-checkpoint: missing empty line before the checkpoint")
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			break
		}
		h, err := base64.StdEncoding.DecodeString(line)
		if err != nil || len(h) != 32 || base64.StdEncoding.EncodeToString(h) != line {
			return 0, nil, nil, fmt.Errorf("add-checkpoint: proof line %q is not a base64 SHA-256 hash", line)
		}
		if len(proof) == 64 {
			return 0, nil, nil, errors.New("add-checkpoint: more than 64 proof hashes")
		}
		proof = append(proof, h)
	}
	cp, err = io.ReadAll(r)
	if err != nil {
		return 0, nil, nil, err
	}
	return old, proof, cp, nil
}
