package coordinator

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"

	"github.com/mpcq/mpcq/mpc"
	"github.com/mpcq/mpcq/pki"
)

const (
	ceremonyFile  = "ceremony.json"
	publicKeyFile = "collective.pk"
	rotationFile  = "rotation.keys"
	epochFile     = "epoch.json"
	// unionFile holds the lineage's union: the 32-byte pseudonym of
	// every slot, in slot order (incremental epochs look new people up
	// in it and append new slots).
	unionFile = "union.bin"
)

type ceremonyState struct {
	ID       string   `json:"id"`
	ParamSet string   `json:"param_set"`
	PKHash   []byte   `json:"public_key_hash"`
	Parties  []string `json:"parties"`
}

type epochState struct {
	ID        string            `json:"id"`
	Entities  uint64            `json:"entities"`
	UnionHash []byte            `json:"union_hash"`
	Sizes     map[string]uint64 `json:"sizes"`
	// Lineage is the full alignment that started this epoch's lineage;
	// Previous the epoch an incremental epoch extended. Removed counts
	// the rows removed in the lineage's incremental epochs, a bound on
	// its empty slots (compaction). UnionFileHash is the SHA-256 of
	// union.bin, written before this file. Absent in state written before
	// incremental epochs: the next change runs a full alignment.
	Lineage       string `json:"lineage,omitempty"`
	Previous      string `json:"previous,omitempty"`
	Removed       uint64 `json:"removed,omitempty"`
	UnionFileHash []byte `json:"union_file_hash,omitempty"`
}

func (s *Server) writeJSON(name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return pki.WritePrivate(s.path(name), b)
}

func (s *Server) readJSON(name string, v any) (bool, error) {
	b, err := os.ReadFile(s.path(name))
	if os.IsNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, json.Unmarshal(b, v)
}

func (s *Server) saveKeys(k *keySet, gks []*rlwe.GaloisKey) error {
	var buf []byte
	for _, gk := range gks {
		b, err := gk.MarshalBinary()
		if err != nil {
			return err
		}
		buf = binary.BigEndian.AppendUint64(buf, uint64(len(b)))
		buf = append(buf, b...)
	}
	if err := pki.WritePrivate(s.path(rotationFile), buf); err != nil {
		return err
	}
	if err := pki.WritePrivate(s.path(publicKeyFile), k.pkRaw); err != nil {
		return err
	}
	return s.writeJSON(ceremonyFile, k.state)
}

func (s *Server) loadState() error {
	var cs ceremonyState
	ok, err := s.readJSON(ceremonyFile, &cs)
	if err != nil || !ok {
		return err
	}
	params, err := mpc.NewParams(cs.ParamSet)
	if err != nil {
		return err
	}
	if cs.ParamSet != s.cfg.ParamSet {
		s.log.Warn().Str("saved", cs.ParamSet).Str("config", s.cfg.ParamSet).Msg("parameter set changed; a new ceremony will run")
		return nil
	}
	pkRaw, err := os.ReadFile(s.path(publicKeyFile))
	if err != nil {
		return err
	}
	pk, err := params.UnmarshalPublicKey(pkRaw)
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(s.path(rotationFile))
	if err != nil {
		return err
	}
	var gks []*rlwe.GaloisKey
	for len(raw) > 0 {
		if len(raw) < 8 {
			return fmt.Errorf("%s: truncated", rotationFile)
		}
		n := binary.BigEndian.Uint64(raw)
		if n > uint64(len(raw)-8) {
			return fmt.Errorf("%s: truncated", rotationFile)
		}
		gk := rlwe.NewGaloisKey(params.BGV)
		if err := gk.UnmarshalBinary(raw[8 : 8+n]); err != nil {
			return fmt.Errorf("%s: %w", rotationFile, err)
		}
		gks = append(gks, gk)
		raw = raw[8+n:]
	}
	s.keys = &keySet{state: cs, params: params, pk: pk, pkRaw: pkRaw, evk: rlwe.NewMemEvaluationKeySet(nil, gks...)}
	var es epochState
	if ok, err := s.readJSON(epochFile, &es); err != nil {
		return err
	} else if ok {
		s.epoch = &es
	}
	s.log.Info().Str("ceremony", cs.ID).Bool("epoch", s.epoch != nil).Msg("state loaded")
	return nil
}
