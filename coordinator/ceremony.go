package coordinator

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"

	"github.com/mpcq/mpcq/internal/wire"
	"github.com/mpcq/mpcq/ledger/entry"
	"github.com/mpcq/mpcq/mpc"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// forEachParty runs f for every party concurrently and returns the first
// error, naming the party.
func (s *Server) forEachParty(ctx context.Context, f func(ctx context.Context, p *partyConn) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(s.parties))
	for i, p := range s.parties {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx, p); err != nil {
				errs[i] = partyFailed(p.name, err)
				cancel()
			}
		}()
	}
	wg.Wait()
	return firstCause(errs...)
}

// runCeremony generates the collective public key and rotation keys: a
// nonce from every party, the transcript back to every party, their
// shares aggregated here, the public key back to every party.
func (s *Server) runCeremony(ctx context.Context) error {
	start := time.Now()
	params, err := mpc.NewParams(s.cfg.ParamSet)
	if err != nil {
		return err
	}
	id := newID("c-")
	names := s.cfg.PartyNames()
	s.log.Info().Str("ceremony", id).Str("param_set", s.cfg.ParamSet).Strs("parties", names).Msg("key ceremony started")
	var mu sync.Mutex
	nonces := map[string][]byte{}
	err = s.forEachParty(ctx, func(ctx context.Context, p *partyConn) error {
		ctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout())
		defer cancel()
		r, err := p.client.CeremonyNonce(ctx, &pb.CeremonyNonceRequest{Consortium: s.cfg.Consortium, CeremonyId: id, ParamSet: s.cfg.ParamSet, Parties: names})
		if err != nil {
			return err
		}
		mu.Lock()
		nonces[p.name] = r.Nonce
		mu.Unlock()
		return nil
	})
	if err != nil {
		return err
	}
	seed, err := mpc.Transcript{Consortium: s.cfg.Consortium, ID: id, ParamSet: s.cfg.ParamSet, Parties: names, Nonces: nonces}.Seed()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrParty, err)
	}
	galEls := params.GaloisElements()
	ckg := map[string][]byte{}
	gkg := map[uint64]map[string][]byte{}
	gkgSig := map[uint64]map[string][]byte{}
	for _, el := range galEls {
		gkg[el] = map[string][]byte{}
		gkgSig[el] = map[string][]byte{}
	}
	err = s.forEachParty(ctx, func(ctx context.Context, p *partyConn) error {
		stream, err := p.client.CeremonyShares(ctx, &pb.CeremonySharesRequest{CeremonyId: id, Nonces: nonces})
		if err != nil {
			return err
		}
		for {
			m, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			mu.Lock()
			if m.PublicKey {
				ckg[p.name] = m.Share
			} else if g, ok := gkg[m.GaloisElement]; ok {
				g[p.name] = m.Share
				gkgSig[m.GaloisElement][p.name] = m.Signature
			} else {
				mu.Unlock()
				return fmt.Errorf("share for unexpected Galois element %d", m.GaloisElement)
			}
			mu.Unlock()
		}
	})
	if err != nil {
		return err
	}
	if len(ckg) != len(names) {
		return fmt.Errorf("%w: public key shares from %d of %d parties", ErrParty, len(ckg), len(names))
	}
	pk, err := params.AggregatePublicKey(seed, ckg)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrParty, err)
	}
	var gks []*rlwe.GaloisKey
	for _, el := range galEls {
		if len(gkg[el]) != len(names) {
			return fmt.Errorf("%w: rotation key %d shares from %d of %d parties", ErrParty, el, len(gkg[el]), len(names))
		}
		gk, err := params.AggregateGaloisKey(seed, el, gkg[el])
		if err != nil {
			return fmt.Errorf("%w: %v", ErrParty, err)
		}
		gks = append(gks, gk)
	}
	pkRaw := params.MarshalPublicKey(pk)
	pkHash := wire.Hash(pkRaw)
	// Every party aggregates the rotation keys itself from everyone's
	// signed shares: it packs a query's totals with them.
	sendStart := time.Now()
	var msgs []*pb.RotationKey
	for _, el := range galEls {
		for _, name := range names {
			msgs = append(msgs, &pb.RotationKey{CeremonyId: id, GaloisElement: el, Party: name, Share: gkg[el][name], Signature: gkgSig[el][name]})
		}
	}
	err = s.forEachParty(ctx, func(ctx context.Context, p *partyConn) error {
		return sendRotationShares(ctx, p.client, msgs, len(galEls))
	})
	if err != nil {
		return err
	}
	bytesPerParty := 0
	for _, m := range msgs {
		bytesPerParty += len(m.Share) + len(m.Signature)
	}
	s.log.Info().Str("ceremony", id).Int("rotation_keys", len(gks)).Int("bytes_per_party", bytesPerParty).
		Float64("elapsed_s", time.Since(sendStart).Seconds()).Msg("rotation key shares sent to every party")
	err = s.forEachParty(ctx, func(ctx context.Context, p *partyConn) error {
		r, err := p.client.CeremonyFinish(ctx, &pb.CeremonyFinishRequest{CeremonyId: id, PublicKey: pkRaw})
		if err != nil {
			return err
		}
		if string(r.PublicKeyHash) != string(pkHash) {
			return fmt.Errorf("stored a public key with a different hash")
		}
		return nil
	})
	if err != nil {
		return err
	}
	gkHash := sha256.New()
	for _, gk := range gks {
		b, err := gk.MarshalBinary()
		if err != nil {
			return err
		}
		gkHash.Write(b)
	}
	var ce entry.Ceremony
	ce.ParamSet = s.cfg.ParamSet
	copy(ce.PublicKeyHash[:], pkHash)
	copy(ce.GaloisKeysHash[:], gkHash.Sum(nil))
	if _, _, _, err := s.appendEntry(ctx, ce); err != nil {
		return err
	}
	k := &keySet{state: ceremonyState{ID: id, ParamSet: s.cfg.ParamSet, PKHash: pkHash, Parties: names}, params: params, pk: pk, pkRaw: pkRaw,
		evk: rlwe.NewMemEvaluationKeySet(nil, gks...)}
	if err := s.saveKeys(k, gks); err != nil {
		return err
	}
	s.mu.Lock()
	s.keys = k
	s.mu.Unlock()
	s.log.Info().Str("ceremony", id).Int("rotation_keys", len(gks)).Float64("elapsed_s", time.Since(start).Seconds()).Msg("key ceremony finished")
	return nil
}

// sendRotationShares streams every party's signed rotation key shares to
// one party, which aggregates the keys (keys of them) itself.
func sendRotationShares(ctx context.Context, client pb.PartyClient, msgs []*pb.RotationKey, keys int) error {
	stream, err := client.CeremonyRotationKeys(ctx)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if err := stream.Send(m); err != nil {
			_, rerr := stream.CloseAndRecv()
			return errors.Join(err, rerr)
		}
	}
	r, err := stream.CloseAndRecv()
	if err != nil {
		return err
	}
	if int(r.Received) != keys {
		return fmt.Errorf("aggregated %d of %d rotation keys", r.Received, keys)
	}
	return nil
}
