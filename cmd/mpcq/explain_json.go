package main

import "github.com/mpcq/mpcq/internal/chain"

// explainJSON is explain's -o json document: the plan with the field
// names of the other JSON outputs (snake_case), and the privacy report's
// lines.
type explainJSON struct {
	Plan    planJSON `json:"plan"`
	Privacy []string `json:"privacy"`
}

type planJSON struct {
	Canonical string          `json:"canonical"`
	Order     []string        `json:"order"` // the parties' tables in chain order
	Depth     int             `json:"depth"`
	Terms     int             `json:"terms"`
	Groups    int             `json:"groups"`
	Sums      int             `json:"sums"`
	Blocks    int             `json:"blocks"`
	Entities  uint64          `json:"entities"`
	Parties   []planPartyJSON `json:"parties"`
	Worst     []string        `json:"worst_cases"` // per sum, against the plaintext modulus
	Totals    int             `json:"totals"`
	Shares    int             `json:"shares_per_party"`
	ShareSize int64           `json:"share_bytes"`
	EstimateS float64         `json:"estimate_s"`
	Memory    []memoryJSON    `json:"memory"`
	Workers   int             `json:"workers"`
}

type planPartyJSON struct {
	Table      string   `json:"table"`
	Position   int      `json:"position"`
	Conditions []string `json:"conditions"`
	GroupBy    []string `json:"group_by"`
	Sums       []string `json:"sums"`
	PerBlock   int      `json:"ciphertexts_per_block"`
	Sent       int      `json:"ciphertexts_sent"`
	Bytes      int64    `json:"bytes_sent"`
}

type memoryJSON struct {
	Process string `json:"process"`
	Bytes   int64  `json:"bytes"`
	Detail  string `json:"detail"`
}

// planOf is the JSON view of an explanation.
func planOf(e *chain.Explanation) planJSON {
	p := planJSON{Canonical: e.Canonical, Order: e.Order, Depth: e.Depth, Terms: e.Layout.Terms, Groups: e.Layout.Groups,
		Sums: e.Layout.Sums, Blocks: e.Blocks, Entities: e.Entities, Parties: []planPartyJSON{}, Worst: e.Worst,
		Totals: e.Totals, Shares: e.Shares, ShareSize: e.ShareSize, EstimateS: e.EstimateS, Memory: []memoryJSON{}, Workers: e.Workers}
	for _, pp := range e.Parties {
		p.Parties = append(p.Parties, planPartyJSON{Table: pp.Table, Position: pp.Position, Conditions: pp.Conditions,
			GroupBy: pp.GroupBy, Sums: pp.Sums, PerBlock: pp.PerBlock, Sent: pp.Sent, Bytes: pp.Bytes})
	}
	for _, m := range e.Memory {
		p.Memory = append(p.Memory, memoryJSON{Process: m.Process, Bytes: m.Bytes, Detail: m.Detail})
	}
	return p
}
