// Package gen generates deterministic synthetic data for the three-party
// demo consortium (telecom, bank, utility) with planted patterns that joint
// queries should find: a crypto-mining cluster, a telecom-fraud ring,
// meter tampering, and a handful of "extreme" persons whose every column is
// at its declared maximum.
//
// It writes CSV for package table to load. It is not a data source for real
// deployments, and nothing in it is random across runs: the same people
// count and seed always give byte-identical files.
package gen

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/mpcq/mpcq/schema"
)

// ErrConfig is wrapped by errors about Generate's arguments.
var ErrConfig = errors.New("invalid generator configuration")

// MaxPeople is the largest population Generate accepts.
const MaxPeople = 10_000_000

// Inclusion probabilities: the chance that an ordinary person is a customer
// of each institution, drawn independently.
const (
	PTelecom = 0.95
	PBank    = 0.70
	PUtility = 0.80
)

// PSameDistrict is the chance that an ordinary person's district at an
// institution is their home district; otherwise it is drawn uniformly
// (and may still coincide). Two institutions then agree on an ordinary
// person's district with probability about 0.91.
const PSameDistrict = 0.95

// Planted pattern sizes, per thousand people (rounded down), and the
// number of extreme persons (fewer only if there are fewer people).
const (
	MinersPerMille  = 6
	FraudPerMille   = 5
	TamperPerMille  = 3
	ExtremePersons  = 3
	minerCashFloor  = 50_000
	fraudMinFlagged = 30
	fraudMaxFlagged = 300
)

// Planted pattern districts (indices into Districts()): miners mostly in
// D03 then D07, the fraud ring mostly in D05 then D08.
const (
	minerDistrict1 = 2
	minerDistrict2 = 6
	fraudDistrict1 = 4
	fraudDistrict2 = 7
)

// role is what a person was planted as.
type role uint8

const (
	ordinary  role = iota
	miner          // kwh_30d >= 3x kwh_avg_12m and large cash deposits
	fraudster      // many flagged calls and many transfers abroad
	tamperer       // meter_tamper = 1 and low metered use
	extreme        // every column at its declared maximum, at every institution
)

// Counts is the number of data rows written per table name.
type Counts map[string]int

// Generate writes the three tables of Schemas for people persons, drawn
// deterministically from seed, as CSV: a header row, then one row per
// customer in an order shuffled per institution, so row positions reveal
// nothing about who is whom elsewhere. open is called once per table, in
// the order of Schemas, and must return where that table's CSV goes;
// Generate buffers its writes, so open may return an unbuffered file.
// The output depends only on people and seed (for a given Go release and
// architecture: floating-point library results may differ in the last bit
// between architectures, which can move a rounded value by one).
func Generate(people int, seed int64, open func(table string) (io.Writer, error)) (Counts, error) {
	if people < 1 || people > MaxPeople {
		return nil, fmt.Errorf("%w: people is %d; it must be from 1 to %d", ErrConfig, people, MaxPeople)
	}
	if open == nil {
		return nil, fmt.Errorf("%w: no output opener", ErrConfig)
	}
	g := newGenerator(people, seed)
	counts := Counts{}
	for i, t := range Schemas() {
		w, err := open(t.Name)
		if err != nil {
			return counts, fmt.Errorf("cannot open output for table %s: %w", t.Name, err)
		}
		n, err := g.writeTable(w, inst(i), t)
		if err != nil {
			return counts, fmt.Errorf("cannot write table %s: %w", t.Name, err)
		}
		counts[t.Name] = n
	}
	return counts, nil
}

// inst is an institution's index in Schemas.
type inst int

const (
	instTelecom inst = iota
	instBank
	instUtility
	numInst
)

// generator holds what is shared between the tables: ids, roles, and the
// membership of each institution. Row values are drawn from a stream
// keyed by (seed, person, institution), so each table can be written in any
// order without holding the others in memory.
type generator struct {
	key     uint64
	bodies  []uint64
	roles   []role
	members [numInst][]int32
	home    []uint8
	pcg     *rand.PCG
	rng     *rand.Rand
}

func newGenerator(people int, seed int64) *generator {
	key := splitmix(uint64(seed) ^ 0x6d70637167656e31) // "mpcqgen1"
	master := rand.New(rand.NewPCG(key, splitmix(key)))
	g := &generator{key: key, roles: make([]role, people), home: make([]uint8, people)}
	g.pcg = rand.NewPCG(0, 0)
	g.rng = rand.New(g.pcg)

	g.bodies = personBodies(people, master)

	// Planted roles go to exact numbers of randomly chosen persons.
	perm := master.Perm(people)
	next := 0
	assign := func(n int, r role) {
		for ; n > 0 && next < people; n-- {
			g.roles[perm[next]] = r
			next++
		}
	}
	assign(ExtremePersons, extreme)
	assign(people*MinersPerMille/1000, miner)
	assign(people*FraudPerMille/1000, fraudster)
	assign(people*TamperPerMille/1000, tamperer)

	// Home district and membership, from each person's own stream.
	for p := range people {
		g.seedStream(p, numInst)
		r := g.rng
		g.home[p] = uint8(r.IntN(numDistricts))
		in := [numInst]bool{r.Float64() < PTelecom, r.Float64() < PBank, r.Float64() < PUtility}
		switch g.roles[p] {
		case miner:
			g.home[p] = uint8(pick(r, minerDistrict1, minerDistrict2, 0.75))
			in[instBank], in[instUtility] = true, true
		case fraudster:
			g.home[p] = uint8(pick(r, fraudDistrict1, fraudDistrict2, 0.6))
			in[instTelecom], in[instBank] = true, true
		case tamperer:
			in[instUtility] = true
		case extreme:
			g.home[p] = numDistricts - 1
			in = [numInst]bool{true, true, true}
		}
		for i := range numInst {
			if in[i] {
				g.members[i] = append(g.members[i], int32(p))
			}
		}
	}
	for i := range numInst {
		m := g.members[i]
		master.Shuffle(len(m), func(a, b int) { m[a], m[b] = m[b], m[a] })
	}
	return g
}

// pick returns d0 with probability p0, d1 with probability (1-p0)*0.8,
// else a uniformly drawn district.
func pick(r *rand.Rand, d0, d1 int, p0 float64) int {
	u := r.Float64()
	switch {
	case u < p0:
		return d0
	case u < p0+(1-p0)*0.8:
		return d1
	default:
		return r.IntN(numDistricts)
	}
}

// seedStream resets g.rng to the stream of person p at institution i
// (i == numInst is the person's shared stream).
func (g *generator) seedStream(p int, i inst) {
	g.pcg.Seed(g.key, splitmix(uint64(p)<<2|uint64(i)))
}

// splitmix is the SplitMix64 finaliser, used to spread seeds.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// writeTable writes table t of institution i and returns its row count.
func (g *generator) writeTable(w io.Writer, i inst, t schema.Table) (int, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	line := make([]byte, 0, 256)
	line = append(line, t.Key...)
	for _, c := range t.Columns {
		line = append(line, ',')
		line = append(line, c.Name...)
	}
	line = append(line, '\n')
	if _, err := bw.Write(line); err != nil {
		return 0, err
	}
	vals := make([]int64, len(t.Columns))
	for _, p32 := range g.members[i] {
		p := int(p32)
		g.seedStream(p, i)
		g.row(i, p, vals)
		line = appendPersonID(line[:0], g.bodies[p])
		for j, c := range t.Columns {
			line = append(line, ',')
			if c.Kind == schema.KindCategory {
				line = append(line, c.Categories[vals[j]]...)
				continue
			}
			line = strconv.AppendInt(line, min(max(vals[j], c.Min), c.Max), 10)
		}
		line = append(line, '\n')
		if _, err := bw.Write(line); err != nil {
			return 0, err
		}
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	return len(g.members[i]), nil
}

// row fills vals, in the column order of Schemas, with person p's values at
// institution i, drawn from the already seeded stream. Values outside a
// column's bounds are clamped by the caller.
func (g *generator) row(i inst, p int, vals []int64) {
	r := g.rng
	ro := g.roles[p]
	district := int64(g.home[p])
	if ro == ordinary && r.Float64() >= PSameDistrict {
		district = int64(r.IntN(numDistricts))
	}
	vals[0] = district
	if ro == extreme {
		for j := 1; j < len(vals); j++ {
			vals[j] = math.MaxInt64 // clamped to the declared maximum
		}
		return
	}
	switch i {
	case instTelecom:
		telecomRow(r, ro, vals)
	case instBank:
		bankRow(r, ro, vals)
	case instUtility:
		utilityRow(r, ro, vals)
	}
}

// telecomRow: phone_lines, calls_30d, flagged_calls_30d, intl_minutes_30d.
func telecomRow(r *rand.Rand, ro role, v []int64) {
	if ro == fraudster {
		v[1] = int64(2 + r.IntN(9))
		v[2] = int64(500 + r.IntN(3501))
		v[3] = int64(fraudMinFlagged + r.IntN(fraudMaxFlagged-fraudMinFlagged+1))
		v[4] = logNormal(r, 2000, 0.8)
		return
	}
	switch u := r.Float64(); {
	case u < 0.03:
		v[1] = 0
	case u < 0.63:
		v[1] = 1
	case u < 0.88:
		v[1] = 2
	case u < 0.96:
		v[1] = 3
	default:
		v[1] = int64(4 + r.IntN(4))
	}
	v[2] = logNormal(r, 60, 0.9)
	switch u := r.Float64(); {
	case u < 0.88:
		v[3] = 0
	case u < 0.97:
		v[3] = int64(1 + r.IntN(2))
	default:
		v[3] = int64(3 + r.IntN(6))
	}
	if r.Float64() < 0.15 {
		v[4] = logNormal(r, 40, 1.2)
	} else {
		v[4] = 0
	}
}

// bankRow: accounts, balance, cash_deposits_30d, transfers_abroad_30d.
func bankRow(r *rand.Rand, ro role, v []int64) {
	switch u := r.Float64(); {
	case u < 0.02:
		v[1] = 0
	case u < 0.47:
		v[1] = 1
	case u < 0.77:
		v[1] = 2
	case u < 0.90:
		v[1] = 3
	default:
		v[1] = int64(4 + r.IntN(5))
	}
	v[2] = logNormal(r, 25_000, 1.6)
	if r.Float64() < 0.45 {
		v[3] = logNormal(r, 2_000, 1.2)
	} else {
		v[3] = 0
	}
	if r.Float64() < 0.04 {
		v[4] = int64(1 + r.IntN(3))
	} else {
		v[4] = 0
	}
	switch ro {
	case miner:
		v[2] = logNormal(r, 200_000, 1.0)
		v[3] = int64(minerCashFloor + r.IntN(1_450_001))
	case fraudster:
		v[1] = int64(3 + r.IntN(10))
		v[3] = logNormal(r, 30_000, 1.0)
		v[4] = int64(10 + r.IntN(191))
	}
}

// utilityRow: kwh_30d, kwh_avg_12m, meter_tamper.
func utilityRow(r *rand.Rand, ro role, v []int64) {
	avg := max(logNormal(r, 230, 0.5), 10)
	v[2] = avg
	v[3] = 0
	switch ro {
	case miner:
		avg = max(logNormal(r, 300, 0.4), 20)
		v[2] = min(avg, 20_000)
		v[1] = min(int64(float64(v[2])*(3.5+8*r.Float64())), 100_000)
		if r.Float64() < 0.2 {
			v[3] = 1 // bypassing the meter as well
		}
	case tamperer:
		v[1] = int64(float64(avg) * (0.2 + 0.3*r.Float64()))
		v[3] = 1
	default:
		v[1] = max(int64(math.Round(float64(avg)*(1+0.15*r.NormFloat64()))), 0)
	}
}

// logNormal draws a log-normal value with the given median and shape,
// rounded and capped at MaxInt32 (columns clamp further).
func logNormal(r *rand.Rand, median, sigma float64) int64 {
	x := median * math.Exp(sigma*r.NormFloat64())
	if x >= math.MaxInt32 {
		return math.MaxInt32
	}
	return int64(math.Round(x))
}
