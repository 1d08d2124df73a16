package party

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"

	"github.com/mpcq/mpcq/internal/rpc"
	"github.com/mpcq/mpcq/internal/wire"
	"github.com/mpcq/mpcq/mpc"
	"github.com/mpcq/mpcq/pki"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// CeremonyNonce starts a ceremony: the party picks a fresh nonce that goes
// into the transcript from which the common random polynomials derive.
func (s *Server) CeremonyNonce(ctx context.Context, req *pb.CeremonyNonceRequest) (*pb.CeremonyNonceReply, error) {
	set, err := mpc.LookupSet(req.ParamSet)
	if err != nil {
		return nil, rpc.ToStatus(fmt.Errorf("%w: %v", ErrBadRequest, err), codeMap...)
	}
	if set.Insecure && !s.cfg.AllowInsecure {
		return nil, rpc.ToStatus(fmt.Errorf("%w: parameter set %s is insecure; this party's config does not allow it", ErrBadRequest, set.Name), codeMap...)
	}
	if req.CeremonyId == "" || req.Consortium == "" {
		return nil, rpc.ToStatus(fmt.Errorf("%w: ceremony id and consortium are required", ErrBadRequest), codeMap...)
	}
	if err := s.checkParties(req.Parties); err != nil {
		return nil, rpc.ToStatus(err, codeMap...)
	}
	nonce := make([]byte, mpc.NonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, rpc.ToStatus(err)
	}
	s.mu.Lock()
	s.pending = &pendingCeremony{req: req, nonce: nonce}
	s.mu.Unlock()
	s.log.Info().Str("ceremony", req.CeremonyId).Str("param_set", req.ParamSet).Strs("parties", req.Parties).Msg("ceremony started")
	return &pb.CeremonyNonceReply{Nonce: nonce}, nil
}

// CeremonyShares derives the CRS seed from the transcript (checking that
// its own nonce is in it), samples a fresh secret key share and streams
// its public-key share and one rotation-key share per Galois element.
func (s *Server) CeremonyShares(req *pb.CeremonySharesRequest, stream pb.Party_CeremonySharesServer) error {
	s.mu.Lock()
	pend := s.pending
	s.mu.Unlock()
	if pend == nil || pend.req.CeremonyId != req.CeremonyId {
		return rpc.ToStatus(fmt.Errorf("%w: no ceremony %q in progress", ErrBadRequest, req.CeremonyId), codeMap...)
	}
	if subtle.ConstantTimeCompare(req.Nonces[s.name], pend.nonce) != 1 {
		return rpc.ToStatus(fmt.Errorf("%w: the transcript does not carry this party's nonce", ErrBadRequest), codeMap...)
	}
	tr := mpc.Transcript{Consortium: pend.req.Consortium, ID: pend.req.CeremonyId, ParamSet: pend.req.ParamSet, Parties: pend.req.Parties, Nonces: req.Nonces}
	seed, err := tr.Seed()
	if err != nil {
		return rpc.ToStatus(err, codeMap...)
	}
	params, err := mpc.NewParams(pend.req.ParamSet)
	if err != nil {
		return rpc.ToStatus(err, codeMap...)
	}
	sk := params.NewSecretKey()
	share, err := params.GenPublicKeyShare(sk, seed)
	if err != nil {
		return rpc.ToStatus(err, codeMap...)
	}
	if err := stream.Send(&pb.KeyShare{PublicKey: true, Share: share}); err != nil {
		return err
	}
	for _, el := range params.GaloisElements() {
		if err := stream.Context().Err(); err != nil {
			return rpc.ToStatus(err)
		}
		share, err := params.GenGaloisKeyShare(sk, seed, el)
		if err != nil {
			return rpc.ToStatus(err, codeMap...)
		}
		sig := ed25519.Sign(s.priv, shareStatement(pend.req.CeremonyId, s.name, el, share))
		if err := stream.Send(&pb.KeyShare{GaloisElement: el, Share: share, Signature: sig}); err != nil {
			return err
		}
	}
	s.mu.Lock()
	if s.pending == pend {
		pend.sk, pend.params, pend.seed = sk, params, seed
	}
	s.mu.Unlock()
	return nil
}

// CeremonyFinish stores the collective public key with the secret key
// share (0600) and makes them the party's current keys.
func (s *Server) CeremonyFinish(ctx context.Context, req *pb.CeremonyFinishRequest) (*pb.CeremonyFinishReply, error) {
	s.mu.Lock()
	pend := s.pending
	var sk *rlwe.SecretKey
	var params *mpc.Params
	var evk *rlwe.MemEvaluationKeySet
	var gkRaw []byte
	if pend != nil {
		sk, params, evk, gkRaw = pend.sk, pend.params, pend.evk, pend.gkRaw
	}
	s.mu.Unlock()
	if pend == nil || sk == nil || pend.req.CeremonyId != req.CeremonyId {
		return nil, rpc.ToStatus(fmt.Errorf("%w: ceremony %q has not produced shares here", ErrBadRequest, req.CeremonyId), codeMap...)
	}
	pk, err := params.UnmarshalPublicKey(req.PublicKey)
	if err != nil {
		return nil, rpc.ToStatus(err, codeMap...)
	}
	if evk == nil {
		return nil, rpc.ToStatus(fmt.Errorf("%w: ceremony %q: no rotation keys (CeremonyRotationKeys comes first)", ErrBadRequest, req.CeremonyId), codeMap...)
	}
	st := ceremonyState{ID: pend.req.CeremonyId, ParamSet: pend.req.ParamSet, PKHash: wire.Hash(req.PublicKey)}
	if err := pki.WritePrivate(s.store.path(secretKeyFile), params.MarshalSecretKey(sk)); err != nil {
		return nil, rpc.ToStatus(err)
	}
	if err := pki.WritePrivate(s.store.path(publicKeyFile), req.PublicKey); err != nil {
		return nil, rpc.ToStatus(err)
	}
	if err := pki.WritePrivate(s.store.path(rotationKeysFile), gkRaw); err != nil {
		return nil, rpc.ToStatus(err)
	}
	if err := s.store.writeJSON(ceremonyFile, st); err != nil {
		return nil, rpc.ToStatus(err)
	}
	// Alignment does not depend on the keys, so an epoch survives a new ceremony.
	s.mu.Lock()
	s.replaceKeysLocked(&keys{params: params, sk: sk, pk: pk, evk: evk, state: st})
	s.pending = nil
	s.syncHealthLocked()
	s.mu.Unlock()
	s.log.Info().Str("ceremony", st.ID).Msg("ceremony finished; keys stored")
	return &pb.CeremonyFinishReply{PublicKeyHash: st.PKHash}, nil
}

// ShareDomain separates the signatures of rotation key shares from every
// other signature made with a party's key.
const ShareDomain = "mpcq/rotation-key-share/v1\x00"

// shareStatement is what a party signs for each of its rotation key
// shares: the ceremony, the party, the Galois element and the SHA-256 of
// the share.
func shareStatement(ceremonyID, party string, galEl uint64, share []byte) []byte {
	h := sha256.Sum256(share)
	out := make([]byte, 0, len(ShareDomain)+8+len(ceremonyID)+len(party)+8+32)
	out = append(out, ShareDomain...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(ceremonyID)))
	out = append(out, ceremonyID...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(party)))
	out = append(out, party...)
	out = binary.BigEndian.AppendUint64(out, galEl)
	return append(out, h[:]...)
}

// ErrBadShare is wrapped when a rotation key share is not signed by the
// party it is said to come from, for this ceremony and Galois element.
var ErrBadShare = fmt.Errorf("%w: rotation key share not signed by its party", ErrBadRequest)

// shareCollector gathers every party's signed rotation key shares and
// aggregates each rotation key as soon as all its shares are in. Pure:
// keys in, keys out.
type shareCollector struct {
	params  *mpc.Params
	seed    [32]byte
	id      string
	parties []string
	peers   map[string]ed25519.PublicKey
	pending map[uint64]map[string][]byte
	keys    map[uint64]*rlwe.GaloisKey
}

func newShareCollector(params *mpc.Params, seed [32]byte, id string, parties []string, peers map[string]ed25519.PublicKey) *shareCollector {
	c := &shareCollector{params: params, seed: seed, id: id, parties: parties, peers: peers,
		pending: map[uint64]map[string][]byte{}, keys: map[uint64]*rlwe.GaloisKey{}}
	for _, el := range params.GaloisElements() {
		c.pending[el] = map[string][]byte{}
	}
	return c
}

// add takes one party's share of one Galois element after checking its
// signature under that party's certificate key.
func (c *shareCollector) add(m *pb.RotationKey) error {
	if m.CeremonyId != c.id {
		return fmt.Errorf("%w: rotation key share for ceremony %q, this one is %q", ErrBadRequest, m.CeremonyId, c.id)
	}
	got, ok := c.pending[m.GaloisElement]
	if !ok {
		return fmt.Errorf("%w: rotation key share for Galois element %d, unexpected or already complete", ErrBadRequest, m.GaloisElement)
	}
	if !slices.Contains(c.parties, m.Party) {
		return fmt.Errorf("%w: rotation key share from %q, not a party of the ceremony", ErrBadRequest, m.Party)
	}
	if _, dup := got[m.Party]; dup {
		return fmt.Errorf("%w: two rotation key shares of %s for Galois element %d", ErrBadRequest, m.Party, m.GaloisElement)
	}
	pub := c.peers[m.Party]
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, shareStatement(c.id, m.Party, m.GaloisElement, m.Share), m.Signature) {
		return fmt.Errorf("%w: party %s, Galois element %d", ErrBadShare, m.Party, m.GaloisElement)
	}
	got[m.Party] = m.Share
	if len(got) < len(c.parties) {
		return nil
	}
	gk, err := c.params.AggregateGaloisKey(c.seed, m.GaloisElement, got)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	c.keys[m.GaloisElement] = gk
	delete(c.pending, m.GaloisElement)
	return nil
}

// done returns the aggregated rotation keys and their file bytes (in the
// order of GaloisElements) once every share of every element is in.
func (c *shareCollector) done() (*rlwe.MemEvaluationKeySet, []byte, error) {
	if len(c.pending) > 0 {
		return nil, nil, fmt.Errorf("%w: rotation key shares missing for %d Galois element(s)", ErrBadRequest, len(c.pending))
	}
	var raw []byte
	gks := make([]*rlwe.GaloisKey, 0, len(c.keys))
	for _, el := range c.params.GaloisElements() {
		gks = append(gks, c.keys[el])
		raw = append(raw, c.params.MarshalGaloisKey(c.keys[el])...)
	}
	return rlwe.NewMemEvaluationKeySet(nil, gks...), raw, nil
}

// CeremonyRotationKeys receives every party's signed rotation key shares,
// relayed by the coordinator, before CeremonyFinish: this party checks
// each signature under the sender's certificate key and aggregates the
// rotation keys itself (with the transcript's CRS), so a coordinator
// cannot hand it keys of its own making. A query's last party packs its
// totals with them.
func (s *Server) CeremonyRotationKeys(stream pb.Party_CeremonyRotationKeysServer) error {
	s.mu.Lock()
	pend := s.pending
	s.mu.Unlock()
	if pend == nil || pend.params == nil {
		return rpc.ToStatus(fmt.Errorf("%w: no ceremony has produced shares here", ErrBadRequest), codeMap...)
	}
	c := newShareCollector(pend.params, pend.seed, pend.req.CeremonyId, pend.req.Parties, s.peers)
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if err := c.add(m); err != nil {
			s.log.Warn().Err(err).Msg("rotation key share refused")
			return rpc.ToStatus(err, codeMap...)
		}
	}
	evk, raw, err := c.done()
	if err != nil {
		return rpc.ToStatus(err, codeMap...)
	}
	s.mu.Lock()
	if s.pending == pend {
		pend.evk, pend.gkRaw = evk, raw
	}
	s.mu.Unlock()
	return stream.SendAndClose(&pb.RotationKeysReply{Received: uint32(len(pend.params.GaloisElements()))})
}

// decodeRotationKeys decodes the rotation keys file's bytes (see
// rotationKeysRaw) with the safe decoder.
func decodeRotationKeys(params *mpc.Params, raw []byte) (*rlwe.MemEvaluationKeySet, error) {
	els := params.GaloisElements()
	if len(els) == 0 || len(raw)%len(els) != 0 {
		return nil, fmt.Errorf("%w: rotation keys file of %d bytes for %d keys", mpc.ErrMalformed, len(raw), len(els))
	}
	size := len(raw) / len(els)
	gks := make([]*rlwe.GaloisKey, len(els))
	for i, el := range els {
		var err error
		if gks[i], err = params.UnmarshalGaloisKey(raw[i*size:(i+1)*size], el); err != nil {
			return nil, err
		}
	}
	return rlwe.NewMemEvaluationKeySet(nil, gks...), nil
}

// loadRotationKeys reads the stored rotation keys; none (nil, nil) when
// the file is absent (keys of a ceremony that did not send them).
func loadRotationKeys(params *mpc.Params, path string) (*rlwe.MemEvaluationKeySet, error) {
	raw, err := pki.ReadPrivate(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	evk, err := decodeRotationKeys(params, raw)
	if err != nil {
		return nil, fmt.Errorf("rotation keys: %w", err)
	}
	return evk, nil
}
