package chain

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/mpcq/mpcq/plan"
	"github.com/mpcq/mpcq/schema"
)

// Params are the figures of the parameter set that EXPLAIN needs.
type Params struct {
	Name     string
	Slots    int
	Modulus  uint64
	CtBytes  func(level int) int // wire size of a ciphertext at a level
	Fresh    func(chainLen int) int
	ShareLvl int // level of decryption shares
	// Packed returns how many packed ciphertexts hold k totals and how
	// many key switches packing them costs.
	Packed func(k int) (ciphertexts, keySwitches int)
	// Workers is the crypto goroutines per process the memory model
	// assumes (0: DefaultWorkers).
	Workers int
}

// Cost model for the estimate, measured on a 2-core machine with logN 14
// (go test ./mpc -bench Step; mpcdemo bench): per block, encrypting a
// ciphertext at the fresh level, encoding one of a party's distinct
// vectors, one plaintext product with its rescale and transfer (a middle
// party) or accumulated (the last); per key switch of the packing; per
// packed ciphertext, a decryption share from every party; plus the
// ledger's two appends.
const (
	encryptMS    = 11.0
	encodeMS     = 1.0
	multiplyMS   = 3.0
	accumulateMS = 0.25
	keySwitchMS  = 5.0
	shareMS      = 10.0
	fixedMS      = 450.0
	coresPerJob  = 2.0
)

// Party is one institution's part of a plan.
type Party struct {
	Table      string
	Position   int
	Conditions []string // its local condition in each term
	GroupBy    []string
	Sums       []string
	// Ciphertexts is how many ciphertexts it sends: per block for all but
	// the last, in total for the last.
	PerBlock int
	Sent     int
	Bytes    int64
}

// Explanation is what EXPLAIN shows.
type Explanation struct {
	Canonical string
	Order     []string
	Depth     int
	Layout    Layout
	Blocks    int
	Entities  uint64
	Parties   []Party
	Worst     []string // per whole sum: worst case against the modulus, and its digit split if any
	// Splits says, per sum split into digits (plan.Fit), how and at what
	// cost: the digits are extra sums in Layout, so in every figure here.
	Splits    []string
	Totals    int // (group, sum) totals, packed for decryption
	Shares    int // decryption shares per party: one per packed ciphertext
	ShareSize int64
	EstimateS float64
	// Memory is the planned peak memory of the query at each process, in
	// chain order, then the coordinator (memory.go).
	Memory  []Footprint
	Workers int // the workers per process the memory figures assume
}

// Explain lays out a plan without running anything, with the digit
// splits plan.Fit gives at the parameter set's modulus and entities (a
// plan beyond what digits can represent is laid out whole, and its Worst
// line says it is refused and why).
func Explain(p *plan.Plan, cs schema.Consortium, par Params, entities uint64) (*Explanation, error) {
	fitted := *p
	fitErr := fitted.Fit(plan.Limits{Modulus: par.Modulus, Entities: entities}, cs)
	if fitErr != nil {
		fitted.Splits = nil
	}
	p = &fitted
	order := Order(p)
	lay := LayoutOf(p)
	e := &Explanation{Canonical: p.Canonical, Order: order, Depth: Depth(len(order)), Layout: lay,
		Blocks: int((entities + uint64(par.Slots) - 1) / uint64(par.Slots)), Entities: entities}
	sums := p.Sums()
	sizes := make([]int, len(p.GroupBy))
	for i, g := range p.GroupBy {
		sizes[i] = len(g.Categories)
	}
	fresh := par.Fresh(len(order))
	var prev []int // per output: incoming ciphertext index
	workers := par.Workers
	if workers <= 0 {
		workers = DefaultWorkers
	}
	e.Workers = workers
	prevPerBlock := 0
	estimate := fixedMS
	for pos, tbl := range order {
		ti := -1
		for i, t := range p.Tables {
			if t == tbl {
				ti = i
			}
		}
		t, _ := cs.Table(tbl)
		party := Party{Table: tbl, Position: pos}
		for k, term := range p.Terms {
			party.Conditions = append(party.Conditions, fmt.Sprintf("term %d (%+d): %s", k+1, term.Sign, plan.FormatLocal(term.Locals[ti], t)))
		}
		for _, g := range p.GroupBy {
			if g.Table == tbl {
				party.GroupBy = append(party.GroupBy, fmt.Sprintf("%s.%s (%d categories)", g.Table, g.Column, len(g.Categories)))
			}
		}
		for _, s := range sums {
			if s.Table == tbl {
				party.Sums = append(party.Sums, s.Label())
			}
		}
		keys := map[string]int{}
		vectors := map[string]bool{}
		next := make([]int, lay.N())
		for o := range lay.N() {
			k, g, s := lay.Split(o)
			key := p.Terms[k].Locals[ti].Key()
			gi := GroupIndices(sizes, g)
			for i, gc := range p.GroupBy {
				if gc.Table == tbl {
					key += fmt.Sprintf("|%d=%d", i, gi[i])
				}
			}
			if sums[s].Table == tbl {
				key += "|" + sums[s].VectorKey()
			}
			vectors[key] = true
			if pos > 0 {
				key += fmt.Sprintf("|in%d", prev[o])
			}
			j, ok := keys[key]
			if !ok {
				j = len(keys)
				keys[key] = j
			}
			next[o] = j
		}
		prev = next
		party.PerBlock = len(keys)
		level := fresh - pos
		switch {
		case pos == 0:
			estimate += float64(party.PerBlock*e.Blocks) * encryptMS / coresPerJob
		case pos == len(order)-1:
			estimate += float64(e.Blocks) * (float64(len(vectors))*encodeMS + float64(party.PerBlock)*accumulateMS) / coresPerJob
		default:
			estimate += float64(e.Blocks) * (float64(len(vectors))*encodeMS + float64(party.PerBlock)*multiplyMS) / coresPerJob
		}
		if pos == len(order)-1 {
			party.Sent = party.PerBlock
		} else {
			party.Sent = party.PerBlock * e.Blocks
		}
		party.Bytes = int64(party.Sent) * int64(par.CtBytes(level))
		e.Parties = append(e.Parties, party)
		shape := StepShape{First: pos == 0, Last: pos == len(order)-1, Workers: workers, Entities: int(entities),
			Vectors: len(vectors), In: prevPerBlock, Out: party.PerBlock, OutBytes: par.CtBytes(level)}
		if pos > 0 {
			shape.InBytes = par.CtBytes(level + 1)
		}
		if shape.Last {
			shape.SumBytes = par.CtBytes(level)
			shape.Totals = lay.Groups * lay.Sums
			shape.Packed, _ = par.Packed(shape.Totals)
			if !shape.First {
				shape.OutBytes = shape.InBytes // running sums stay at the incoming level
			}
		}
		e.Memory = append(e.Memory, Footprint{Process: roleName(pos, len(order)) + " " + tbl, Bytes: shape.Bytes(), Detail: shape.Detail()})
		prevPerBlock = party.PerBlock
	}
	var keySwitches int
	e.Totals = lay.Groups * lay.Sums
	e.Shares, keySwitches = par.Packed(e.Totals)
	e.ShareSize = int64(par.CtBytes(par.ShareLvl))
	cshape := CoordinatorShape{ChainLen: len(order), Workers: workers, Sums: prevPerBlock, Totals: e.Totals, Packed: e.Shares, SumBytes: par.CtBytes(par.ShareLvl)}
	e.Memory = append(e.Memory, Footprint{Process: "coordinator", Bytes: cshape.Bytes(), Detail: cshape.Detail()})
	estimate += float64(keySwitches)*keySwitchMS + float64(e.Shares*len(cs.Tables))*shareMS/coresPerJob
	e.EstimateS = estimate / 1000
	T := new(big.Int).SetUint64(par.Modulus)
	groups := len(p.Groups())
	for _, s := range p.WholeSums() {
		w := new(big.Int).SetUint64(entities)
		label := "COUNT(*)"
		if s.Table != "" {
			t, _ := cs.Table(s.Table)
			c, _ := t.Column(s.Column)
			m := big.NewInt(c.Max)
			if s.Clip > 0 && s.Clip < c.Max {
				m = big.NewInt(s.Clip)
			}
			if s.Kind == plan.SumSquares {
				m.Mul(m, m)
			}
			label = s.Label()
			w.Mul(w, m)
		}
		verdict := "fits"
		if sp, ok := p.Splits[s]; ok {
			digit := new(big.Int).Lsh(big.NewInt(1), uint(sp.Bits))
			digit.Sub(digit, big.NewInt(1)).Mul(digit, new(big.Int).SetUint64(entities))
			verdict = fmt.Sprintf("split into %d digits of base 2^%d, each digit's total at most %s: exact", sp.Digits, sp.Bits, digit)
			extra := sp.Digits - 1
			e.Splits = append(e.Splits, fmt.Sprintf("%s in %d digits of base 2^%d: %d more sum(s) per group, so %d more encrypted output(s) per term, vector(s) to encode and product(s) per block, and %d more packed total(s)",
				label, sp.Digits, sp.Bits, extra, extra*groups, extra*groups))
		} else if w.Cmp(T) >= 0 {
			verdict = "DOES NOT FIT: refused"
			if fitErr != nil {
				verdict += " (" + fitErr.Error() + ")"
			}
		}
		e.Worst = append(e.Worst, fmt.Sprintf("%s: at most %s per group, plaintext modulus %s: %s", label, w, T, verdict))
	}
	return e, nil
}

// DefaultMaxQueryMemoryMB is the coordinator's default max_query_memory_mb,
// shown by EXPLAIN, which does not know the configured cap.
const DefaultMaxQueryMemoryMB = 1024

func verdict(fits bool) string {
	if fits {
		return "fits"
	}
	return "WOULD BE REFUSED"
}

// roleName names a party by its place in a chain of n.
func roleName(pos, n int) string {
	switch {
	case n == 1:
		return "only party"
	case pos == 0:
		return "first party"
	case pos == n-1:
		return "last party"
	default:
		return "middle party"
	}
}

// String renders the explanation for people.
func (e *Explanation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "EXPLAIN %s\n", e.Canonical)
	fmt.Fprintf(&b, "chain: %s (multiplicative depth %d: one ciphertext × plaintext product per party after the first)\n", strings.Join(e.Order, " → "), e.Depth)
	fmt.Fprintf(&b, "circuit: %d term(s) × %d group(s) × %d sum(s) = %d encrypted outputs; %d aligned people in %d block(s)\n",
		e.Layout.Terms, e.Layout.Groups, e.Layout.Sums, e.Layout.N(), e.Entities, e.Blocks)
	for _, p := range e.Parties {
		role := "multiplies each incoming block by its plaintext vectors and rescales"
		switch {
		case p.Position == 0 && len(e.Parties) == 1:
			role = "encrypts its vectors block by block and sums the blocks"
		case p.Position == 0:
			role = "encrypts its vectors block by block"
		case p.Position == len(e.Parties)-1:
			role += ", then sums the blocks"
		}
		fmt.Fprintf(&b, "\n%s (party %d of %d) %s\n", p.Table, p.Position+1, len(e.Parties), role)
		for _, c := range p.Conditions {
			fmt.Fprintf(&b, "  evaluates locally %s\n", c)
		}
		for _, g := range p.GroupBy {
			fmt.Fprintf(&b, "  groups by %s\n", g)
		}
		for _, s := range p.Sums {
			fmt.Fprintf(&b, "  supplies %s\n", s)
		}
		fmt.Fprintf(&b, "  sends %d ciphertext(s) (%d distinct vector(s) per block), %.1f MiB\n", p.Sent, p.PerBlock, float64(p.Bytes)/(1<<20))
	}
	fmt.Fprintf(&b, "\ncoordinator: combines the terms, sums the slots of %d ciphertext(s) and packs the %d total(s) into %d ciphertext(s); every party sends %d decryption share(s) of %.0f KiB\n",
		e.Totals, e.Totals, e.Shares, e.Shares, float64(e.ShareSize)/1024)
	for _, w := range e.Worst {
		fmt.Fprintf(&b, "worst case: %s\n", w)
	}
	for _, s := range e.Splits {
		fmt.Fprintf(&b, "digit split: %s\n", s)
	}
	fmt.Fprintf(&b, "estimated time: %.1f s on two cores (a model, not a measurement)\n", e.EstimateS)
	var in, relayed int64
	for i, p := range e.Parties {
		in += p.Bytes
		if i < len(e.Parties)-1 {
			relayed += p.Bytes
		}
	}
	fmt.Fprintf(&b, "on the wire: the coordinator receives %s from the parties and relays %s of it; each party receives %s of packed totals to decrypt\n",
		HumanBytes(in), HumanBytes(relayed), HumanBytes(int64(e.Shares)*e.ShareSize))
	fmt.Fprintf(&b, "planned peak memory of this query, assuming %d worker(s) per process (a model; add each process's baseline):\n", e.Workers)
	for _, f := range e.Memory {
		fmt.Fprintf(&b, "  %s\n", f)
	}
	fmt.Fprintf(&b, "the coordinator refuses a query above its max_query_memory_mb at any process (default %d MiB: this query %s)\n",
		DefaultMaxQueryMemoryMB, verdict(e.Peak().Bytes <= DefaultMaxQueryMemoryMB<<20))
	fmt.Fprintf(&b, "nothing was run and nothing was recorded on the ledger\n")
	return b.String()
}
