package party

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"fmt"

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
		if err := stream.Send(&pb.KeyShare{GaloisElement: el, Share: share}); err != nil {
			return err
		}
	}
	s.mu.Lock()
	if s.pending == pend {
		pend.sk, pend.params = sk, params
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
	if pend != nil {
		sk, params = pend.sk, pend.params
	}
	s.mu.Unlock()
	if pend == nil || sk == nil || pend.req.CeremonyId != req.CeremonyId {
		return nil, rpc.ToStatus(fmt.Errorf("%w: ceremony %q has not produced shares here", ErrBadRequest, req.CeremonyId), codeMap...)
	}
	pk, err := params.UnmarshalPublicKey(req.PublicKey)
	if err != nil {
		return nil, rpc.ToStatus(err, codeMap...)
	}
	st := ceremonyState{ID: pend.req.CeremonyId, ParamSet: pend.req.ParamSet, PKHash: wire.Hash(req.PublicKey)}
	if err := pki.WritePrivate(s.store.path(secretKeyFile), params.MarshalSecretKey(sk)); err != nil {
		return nil, rpc.ToStatus(err)
	}
	if err := pki.WritePrivate(s.store.path(publicKeyFile), req.PublicKey); err != nil {
		return nil, rpc.ToStatus(err)
	}
	if err := s.store.writeJSON(ceremonyFile, st); err != nil {
		return nil, rpc.ToStatus(err)
	}
	// Alignment does not depend on the keys, so an epoch survives a new ceremony.
	s.mu.Lock()
	s.keys = &keys{params: params, sk: sk, pk: pk, state: st}
	s.pending = nil
	s.mu.Unlock()
	s.log.Info().Str("ceremony", st.ID).Msg("ceremony finished; keys stored")
	return &pb.CeremonyFinishReply{PublicKeyHash: st.PKHash}, nil
}
