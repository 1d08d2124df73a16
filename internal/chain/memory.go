package chain

import (
	"fmt"
	"strconv"

	"github.com/mpcq/mpcq/mpc"
)

// The memory model: the peak bytes one query holds at each process, from
// the plan alone. Go's heap is close to the bytes a query keeps alive
// because the large objects (ciphertexts, vectors) are allocated once and
// held to the end; what it does not count is the process's baseline (keys,
// table, gRPC: ~0.1-0.5 GiB, whatever the query) and the garbage between
// two collections. Checked against VmHWM on real daemons: see
// docs/bounds.md and TestMemoryModelMeasured (e2e).
//
// Ciphertexts are degree 1: 2 × (level+1) × N × 8 bytes, in memory as on
// the wire (mpc.Params.CiphertextSize). A block in flight is held twice:
// its wire bytes and its decoded ciphertexts.

// DefaultWorkers is the number of crypto goroutines per process the model
// assumes when the caller does not know it (mpcq, which sees only the
// schema): the demo and test machines have two cores.
const DefaultWorkers = 2

// Footprint is one process's planned peak memory for a query.
type Footprint struct {
	Process string // "first party telecom", "last party utility", "coordinator"
	Bytes   int64
	Detail  string // the dominant terms, for people
}

func (f Footprint) String() string {
	return fmt.Sprintf("%s: about %s (%s)", f.Process, HumanBytes(f.Bytes), f.Detail)
}

// StepShape is what a party's step holds: the figures newStep knows, so
// that a party can apply the same model to the header it is sent.
type StepShape struct {
	First, Last bool
	Workers     int
	Entities    int
	Vectors     int // distinct plaintext vectors, each Entities uint64s
	In          int // incoming ciphertexts per block (0 for the first party)
	Out         int // distinct ciphertexts out per block; for the last party, its running sums
	InBytes     int // size of an incoming ciphertext
	OutBytes    int // size of an outgoing ciphertext (first, middle) or of a running sum (last)
	SumBytes    int // last party: size of a sum once rescaled
	Totals      int // last party: the (group, sum) totals it combines, SumBytes each
	Packed      int // last party: the packed ciphertexts it makes, SumBytes each
}

// Bytes is the step's planned peak: its vectors, the blocks in flight
// (one per worker, one in the receive channel, one being assembled, each
// as wire bytes and decoded), gRPC's buffers, and per worker (plus one
// being sent) a block's outputs (encoded and marshalled) or, at the last party, per worker a
// running sum per output. Once every block is in, the last party adds its
// workers' sums into the first worker's, rescales each and marshals them:
// two more ciphertexts per output. The other workers' sums are garbage by
// then, but measured (TestMemoryMeasured) the collector does not return
// them before the process reaches the sum of both phases: the heap may
// grow to twice the live bytes before a collection (GOGC=100), so the
// phases add up in RSS, and so they do here. The last party then combines
// its sums into the totals and packs them (each packed ciphertext also
// marshalled).
func (s StepShape) Bytes() int64 {
	w := int64(max(s.Workers, 1))
	b := int64(s.Vectors)*int64(s.Entities)*8 + transportBytes
	if !s.First {
		b += (w + 2) * int64(s.In) * int64(s.InBytes) * 2
	}
	out, ob, sb := int64(s.Out), int64(s.OutBytes), int64(s.SumBytes)
	switch {
	case s.Last && s.First: // a chain of one: each worker encrypts a block and adds it to its sums
		b += w*out*ob*2 + out*sb + (int64(s.Totals)+2*int64(s.Packed))*sb
	case s.Last:
		b += w*out*ob + 2*out*sb + (int64(s.Totals)+2*int64(s.Packed))*sb
	default: // and one more block on its way out through gRPC
		b += (w + 1) * out * ob * 2
	}
	return b
}

// transportBytes is what gRPC buffers for a stream: a message being sent
// and one being received (transport.MaxMessageBytes each).
const transportBytes = 2 * 16 << 20

// Detail names the dominant term of Bytes.
func (s StepShape) Detail() string {
	w := max(s.Workers, 1)
	switch {
	case s.Last:
		return fmt.Sprintf("%d worker(s) × %s running sum(s) of %s, plus blocks in flight and vectors", w, Thousands(s.Out), HumanBytes(int64(s.OutBytes)))
	case s.First:
		return fmt.Sprintf("%d worker(s) × %s ciphertext(s) of %s per block, encoded and marshalled, plus vectors", w, Thousands(s.Out), HumanBytes(int64(s.OutBytes)))
	default:
		return fmt.Sprintf("%d block(s) in flight × %s ciphertext(s) of %s in and %s out", w+2, Thousands(s.In), HumanBytes(int64(s.InBytes)), Thousands(s.Out))
	}
}

// CoordinatorShape is what the coordinator holds for a query.
type CoordinatorShape struct {
	ChainLen int
	Workers  int
	Sums     int // distinct sums the last party sends
	Totals   int // (group, sum) totals: the combined ciphertexts
	Packed   int // packed ciphertexts
	SumBytes int // size of a sum (decryption level)
}

// Bytes is the coordinator's planned peak: the last party's packed
// ciphertexts as wire bytes, decoded and switched (the last party combines
// and packs, so its sums never reach the coordinator), and one relayed
// message per link of the chain, sent and received.
func (c CoordinatorShape) Bytes() int64 {
	b := 3 * int64(c.Packed) * int64(c.SumBytes)
	b += int64(max(c.ChainLen-1, 0)) * 2 * relayMessageBytes
	return b
}

// Detail names the dominant term of Bytes.
func (c CoordinatorShape) Detail() string {
	return fmt.Sprintf("%d relayed message(s) and the last party's %s packed ciphertext(s) of %s", 2*max(c.ChainLen-1, 0), Thousands(c.Packed), HumanBytes(int64(c.SumBytes)))
}

// relayMessageBytes is one relayed block message (transport.MaxBatchBytes).
const relayMessageBytes = 8 << 20

// ParamsOf returns the figures EXPLAIN and the memory model need from a
// parameter set; workers is the crypto goroutines per process (0: the
// model assumes DefaultWorkers).
func ParamsOf(p *mpc.Params, workers int) Params {
	return Params{Name: p.Set.Name, Slots: p.Slots(), Modulus: p.T(),
		CtBytes: p.CiphertextSize, ShareLvl: mpc.DecryptLevel, Workers: workers,
		Packed: func(k int) (int, int) { return p.PackedCount(k), p.PackKeySwitches(k) },
		Fresh:  func(n int) int { l, _ := p.FreshLevel(n); return l }}
}

// Peak is the process with the largest planned memory.
func (e *Explanation) Peak() Footprint {
	var top Footprint
	for _, f := range e.Memory {
		if f.Bytes > top.Bytes {
			top = f
		}
	}
	return top
}

// HumanBytes renders a byte count in KiB, MiB or GiB.
func HumanBytes(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
	default:
		return fmt.Sprintf("%.0f KiB", float64(b)/(1<<10))
	}
}

// Thousands renders n with comma separators: 18900 → "18,900".
func Thousands(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + Thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
