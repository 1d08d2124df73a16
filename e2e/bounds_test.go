package e2e

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mpcq/mpcq/internal/analyst"
	"github.com/mpcq/mpcq/internal/auditor"
	"github.com/mpcq/mpcq/internal/chain"
	"github.com/mpcq/mpcq/internal/demo"
	"github.com/mpcq/mpcq/mpc"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// wideSQL is a legal GROUP BY with 1,800 outputs at the last party (10 × 10
// districts, six sums, three terms): about 2.9 GiB planned there, above the
// default cap of 1 GiB.
const wideSQL = `SELECT telecom.district, bank.district, COUNT(*), SUM(bank.balance), SUM(bank.cash_deposits_30d), SUM(bank.transfers_abroad_30d), SUM(bank.accounts), SUM(telecom.calls_30d)
	FROM telecom JOIN bank USING (person_id) WHERE telecom.calls_30d > 10 OR bank.accounts > 2 GROUP BY telecom.district, bank.district`

// startClusterWith is startCluster with the coordinator's config edited
// (JSON keys to values) before the daemons start.
func startClusterWith(t *testing.T, people int, coord map[string]any) (*demo.Layout, *demo.Cluster) {
	t.Helper()
	dir := t.TempDir()
	l, err := demo.Setup(dir, demo.Options{People: people, Seed: 7, ParamSet: mpc.DefaultSetName, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(coord) > 0 {
		b, err := os.ReadFile(l.CoordinatorConfig())
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		for k, v := range coord {
			m[k] = v
		}
		if b, err = json.Marshal(m); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(l.CoordinatorConfig(), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cl := newCluster(t, l)
	if err := cl.StartAll(); err != nil {
		t.Fatal(err)
	}
	waitReady(t, l)
	return l, cl
}

// ledgerQueries lists the queries the ledger records, as an auditor reads
// them.
func ledgerQueries(t *testing.T, l *demo.Layout) []auditor.QueryRow {
	rows, _ := verifiedLedger(t, l)
	return rows
}

// verifiedLedger reads the live ledger as an auditor does, verified: the
// queries it records and every entry.
func verifiedLedger(t *testing.T, l *demo.Layout) ([]auditor.QueryRow, []auditor.Logged) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := auditor.Load(l.AuditorDir())
	if err != nil {
		t.Fatal(err)
	}
	fetch, err := a.Fetcher(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	_, rows, all, err := a.VerifyEntries(ctx, fetch, nil)
	if err != nil {
		t.Fatalf("ledger: %v", err)
	}
	return rows, all
}

// TestBoundedWork runs real daemons with two running slots and a queue of
// eight: a query planned above the memory cap is refused with the figure,
// the process and the cap; of 30 queries sent at once some complete with
// the right totals, the excess get ResourceExhausted with a retry hint, no
// other error occurs, and the ledger records a QUERY only for those that
// ran.
func TestBoundedWork(t *testing.T) {
	l, _ := startClusterWith(t, 2000, map[string]any{"max_concurrent_queries": 2, "max_queued_queries": 8})
	p, client, closeFn, err := l.Analyst()
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	db, err := demo.LoadDB(l)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	before := len(ledgerQueries(t, l))

	// Too large: refused at plan time, nothing recorded.
	_, err = p.Query(ctx, client, analyst.Request{SQL: wideSQL}, nil)
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("1,800-output GROUP BY: %v, want InvalidArgument", err)
	}
	for _, want := range []string{"needs about", "at the last party bank", "1,800", "above the cap of 1.0 GiB (max_query_memory_mb)", "split the query"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal does not say %q: %v", want, err)
		}
	}
	// EXPLAIN, answered by mpcq, shows the figures and the verdict.
	e, err := p.Explain(ctx, client, wideSQL)
	if err != nil {
		t.Fatal(err)
	}
	if s := e.String(); !strings.Contains(s, "WOULD BE REFUSED") || !strings.Contains(s, "last party bank: about") {
		t.Errorf("EXPLAIN does not show the memory figures:\n%s", s)
	}

	// Thirty at once.
	samples := demo.Samples()
	const n = 30
	var (
		mu                         sync.Mutex
		done, exhausted, sawQueued int
		others                     []error
		wg                         sync.WaitGroup
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := samples[i%len(samples)]
			queued := false
			res, err := p.Query(ctx, client, analyst.Request{SQL: s.SQL}, func(pr *pb.Progress) {
				if pr.Stage == "queued" && strings.HasPrefix(pr.Detail, "queued: position ") {
					queued = true
				}
			})
			mu.Lock()
			defer mu.Unlock()
			if queued {
				sawQueued++
			}
			switch {
			case err == nil:
				if want := demo.Strings(s.Expected(db)); !slices.Equal(res.Rows[0], want) {
					others = append(others, status.Errorf(codes.Internal, "%s: encrypted %v, plaintext %v", s.Name, res.Rows[0], want))
				}
				done++
			case status.Code(err) == codes.ResourceExhausted && strings.Contains(err.Error(), "retry in"):
				exhausted++
			default:
				others = append(others, err)
			}
		}()
	}
	wg.Wait()
	t.Logf("%d queries: %d answered (%d of them queued first), %d refused as ResourceExhausted", n, done, sawQueued, exhausted)
	if len(others) > 0 {
		t.Fatalf("other failures: %v", others)
	}
	if done < 2+8 || exhausted == 0 || done+exhausted != n || sawQueued == 0 {
		t.Fatalf("%d answered, %d exhausted, %d queued: want at least 10 answered (2 running + 8 queued), some exhausted, some queued", done, exhausted, sawQueued)
	}
	rows := ledgerQueries(t, l)
	if got := len(rows) - before; got != done {
		t.Fatalf("the ledger records %d new queries, %d ran", got, done)
	}
	for _, r := range rows[before:] {
		if r.Status != "answered" {
			t.Errorf("ledger: query %s %s (%s)", r.QueryID, r.Status, r.Reason)
		}
	}
}

// TestMemoryMeasured measures, on real daemons with the default limits,
// each process's peak RSS (VmHWM) under 60 concurrent queries, and the
// last party's for the largest GROUP BY that passes the default cap,
// against the model. It takes a few minutes and only runs when asked:
//
//	MPCQ_MEASURE=1 go test -timeout 30m -run TestMemoryMeasured -v ./e2e
//
// MPCQ_MEASURE_PEOPLE sets the people of the demo consortium (20,000).
func TestMemoryMeasured(t *testing.T) {
	if os.Getenv("MPCQ_MEASURE") == "" {
		t.Skip("set MPCQ_MEASURE=1 to measure")
	}
	const capBytes = chain.DefaultMaxQueryMemoryMB << 20
	people := 20000
	if v, err := strconv.Atoi(os.Getenv("MPCQ_MEASURE_PEOPLE")); err == nil && v > 0 {
		people = v
	}
	t.Run("largest passing GROUP BY", func(t *testing.T) {
		// 10 × 10 districts, COUNT and two sums, one term: 300 sums at
		// the last party (400 is above the cap).
		const sql = `SELECT telecom.district, bank.district, COUNT(*), SUM(bank.balance), SUM(bank.cash_deposits_30d)
			FROM telecom JOIN bank USING (person_id) WHERE telecom.calls_30d > 10 AND bank.accounts > 2 GROUP BY telecom.district, bank.district`
		l, cl := startClusterWith(t, people, nil)
		p, client, closeFn, err := l.Analyst()
		if err != nil {
			t.Fatal(err)
		}
		defer closeFn()
		ctx := context.Background()
		e, err := p.Explain(ctx, client, sql)
		if err != nil {
			t.Fatal(err)
		}
		base := peaks(t, cl)
		if _, err := p.Query(ctx, client, analyst.Request{SQL: sql}, nil); err != nil {
			t.Fatal(err)
		}
		after := peaks(t, cl)
		for _, f := range e.Memory {
			name := f.Process[strings.LastIndex(f.Process, " ")+1:]
			t.Logf("%-26s model %7.0f MiB   measured VmHWM %7.0f MiB (before the query %5.0f MiB)", f.Process, mib(f.Bytes), mib(int64(after[name])), mib(int64(base[name])))
		}
		if e.Peak().Bytes > capBytes {
			t.Fatalf("the query is above the cap: %s", e.Peak())
		}
	})
	t.Run("60 concurrent", func(t *testing.T) {
		l, cl := startClusterWith(t, people, nil)
		p, client, closeFn, err := l.Analyst()
		if err != nil {
			t.Fatal(err)
		}
		defer closeFn()
		ctx := context.Background()
		base := peaks(t, cl)
		var wg sync.WaitGroup
		var mu sync.Mutex
		codesSeen := map[codes.Code]int{}
		for i := range 60 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := demo.Samples()[i%len(demo.Samples())]
				_, err := p.Query(ctx, client, analyst.Request{SQL: s.SQL}, nil)
				mu.Lock()
				codesSeen[status.Code(err)]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		after := peaks(t, cl)
		t.Logf("60 concurrent queries, default limits: %v", codesSeen)
		for name, b := range after {
			t.Logf("%-12s peak RSS %5.0f MiB (before the queries %5.0f MiB), cap %d MiB", name, mib(int64(b)), mib(int64(base[name])), chain.DefaultMaxQueryMemoryMB)
			if b > capBytes {
				t.Errorf("%s peaked at %.0f MiB, above the cap", name, mib(int64(b)))
			}
		}
		if codesSeen[codes.OK]+codesSeen[codes.ResourceExhausted] != 60 {
			t.Errorf("unexpected failures: %v", codesSeen)
		}
	})
}

func peaks(t *testing.T, cl *demo.Cluster) map[string]uint64 {
	out := map[string]uint64{}
	for name, pid := range cl.PIDs() {
		b, err := demo.PeakRSS(pid)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = b
	}
	return out
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
