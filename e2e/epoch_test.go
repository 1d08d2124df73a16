package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mpcq/mpcq/internal/analyst"
	"github.com/mpcq/mpcq/internal/auditor"
	"github.com/mpcq/mpcq/internal/demo"
	"github.com/mpcq/mpcq/internal/wire"
	"github.com/mpcq/mpcq/ledger/entry"
	"github.com/mpcq/mpcq/mpc"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// TestIncrementalEpochs changes the people of one party, then of all
// three (1% new, 0.5% removed each, CSVs rewritten and partyd sent
// SIGHUP): each change is an incremental epoch, after which the queries
// equal the plaintext oracle on the changed data, the slots of unchanged
// people did not move, a new person already known at another party took
// that party's slot, and mpcaudit verifies the ledger with its EPOCH
// entries. A query started before the second change finishes.
func TestIncrementalEpochs(t *testing.T) {
	l, cl := startCluster(t, testPeople)
	p, client, closeFn, err := l.Analyst()
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(12, 34))
	samples := epochSamples(t)

	st0 := coordinatorStatus(t, client)
	before := partySlots(t, l)
	changed := changeCSV(t, l, "bank", rng, before)
	hup(t, cl, "bank")
	st1 := waitEpoch(t, client, st0.EpochId)
	if st1.Entities < st0.Entities {
		t.Fatalf("union shrank from %d to %d", st0.Entities, st1.Entities)
	}
	after := partySlots(t, l)
	checkSlots(t, before, after, changed)
	checkQueries(t, ctx, p, client, l, samples)

	// All three parties change while a query runs on the current epoch:
	// once a slow query (100 groups × 3 aggregates) is committed, the parties reload,
	// and the coordinator notices the change at its next status poll
	// while the query runs. Timing decides whether they overlap, so the
	// round is repeated (each a new change) until one did.
	const slowSQL = `SELECT telecom.district, bank.district, COUNT(*), SUM(bank.balance), SUM(bank.cash_deposits_30d)
		FROM telecom JOIN bank USING (person_id) WHERE telecom.calls_30d > 10 GROUP BY telecom.district, bank.district`
	prev := st1
	overlapped := false
	for round := 0; round < 4 && !overlapped; round++ {
		before = partySlots(t, l)
		changedAll := map[string]change{}
		var onOld bool
		var finishedAt time.Time
		var qerr error
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, qerr = p.Query(ctx, client, analyst.Request{SQL: slowSQL}, func(pr *pb.Progress) {
				if pr.Stage == "committed" && !onOld {
					onOld = coordinatorStatus(t, client).EpochId == prev.EpochId
					for _, name := range l.Parties {
						changedAll[name] = changeCSV(t, l, name, rng, before)[name]
					}
					for _, name := range l.Parties {
						hup(t, cl, name)
					}
				}
			})
			finishedAt = time.Now()
		}()
		<-done
		st := waitEpoch(t, client, prev.EpochId)
		if qerr != nil {
			t.Fatalf("round %d: a query started before the epoch change failed: %v", round, qerr)
		}
		if !onOld {
			t.Fatalf("round %d: the query was not committed on epoch %s", round, prev.EpochId)
		}
		// The new epoch's EPOCH entry follows the query's QUERY entry;
		// the query overlapped it if its RESULT entry comes after.
		overlapped = resultAfterEpoch(t, l, st.EpochId)
		t.Logf("round %d: epoch %s (%d) → %s (%d); query finished %v, its RESULT after the new EPOCH %v",
			round, prev.EpochId, prev.Entities, st.EpochId, st.Entities, finishedAt.Format(time.StampMilli), overlapped)
		after = partySlots(t, l)
		checkSlots(t, before, after, changedAll)
		prev = st
	}
	if !overlapped {
		t.Fatal("no round had a query in flight across an epoch change")
	}
	checkQueries(t, ctx, p, client, l, samples)

	// Restarted daemons keep the lineage: a change made while they were
	// down is an incremental epoch too.
	before = partySlots(t, l)
	cl.Stop()
	changed = changeCSV(t, l, "utility", rng, before)
	if err := cl.StartAll(); err != nil {
		t.Fatal(err)
	}
	st3 := waitEpoch(t, client, prev.EpochId)
	if e := epochEntry(t, l, st3.EpochId); e.Previous == 0 {
		t.Fatalf("after a restart, the change ran a full alignment: %+v", e)
	}
	checkSlots(t, before, partySlots(t, l), changed)
	checkQueries(t, ctx, p, client, l, samples[:1])

	if out, err := runTool(t, "mpcaudit", "--profile", l.AuditorDir(), "verify"); err != nil {
		t.Fatalf("mpcaudit verify: %v\n%s", err, out)
	}
}

// epochSamples are the sample queries that join the bank (two and three
// parties) and one single-table query.
func epochSamples(t *testing.T) []demo.Sample {
	var out []demo.Sample
	single := false
	for _, s := range demo.Samples() {
		if len(s.Tables) > 1 && slices.Contains(s.Tables, "bank") && len(out) < 3 {
			out = append(out, s)
		} else if len(s.Tables) == 1 && !single {
			out, single = append(out, s), true
		}
	}
	if len(out) < 3 {
		t.Fatalf("only %d sample queries", len(out))
	}
	return out
}

func checkQueries(t *testing.T, ctx context.Context, p *analyst.Profile, client pb.CoordinatorClient, l *demo.Layout, samples []demo.Sample) {
	t.Helper()
	db, err := demo.LoadDB(l)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range samples {
		res, err := p.Query(ctx, client, analyst.Request{SQL: s.SQL}, nil)
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		if want := demo.Strings(s.Expected(db)); !slices.Equal(res.Rows[0], want) {
			t.Fatalf("%s: encrypted %v, plaintext on the changed data %v", s.Name, res.Rows[0], want)
		}
	}
}

// change is what changeCSV did to one party's table.
type change struct {
	added   []string
	removed []string
	// known are added ids that another party already held, with its name.
	known map[string]string
}

// changeCSV rewrites a party's CSV: 0.5% of its people removed, 1% added
// (half of them people another party holds, half new ids), the added rows
// carrying the values of removed or existing rows.
func changeCSV(t *testing.T, l *demo.Layout, name string, rng *rand.Rand, slots map[string]map[string]uint32) map[string]change {
	t.Helper()
	path := l.DataCSV(name)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	header, rows := recs[0], recs[1:]
	n := len(rows)
	ch := change{known: map[string]string{}}
	held := map[string]bool{}
	for _, r := range rows {
		held[r[0]] = true
	}
	rng.Shuffle(n, func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	nRemove, nAdd := n/200, n/100
	for _, r := range rows[:nRemove] {
		ch.removed = append(ch.removed, r[0])
	}
	kept := rows[nRemove:]
	var others []string
	for _, other := range l.Parties {
		if other == name {
			continue
		}
		for id := range slots[other] {
			if !held[id] {
				others = append(others, id)
			}
		}
	}
	slices.Sort(others)
	others = slices.Compact(others)
	rng.Shuffle(len(others), func(i, j int) { others[i], others[j] = others[j], others[i] })
	for i := range nAdd {
		id := fmt.Sprintf("new-%s-%d-%d", name, time.Now().UnixNano(), i)
		if i%2 == 0 && i/2 < len(others) {
			id = others[i/2]
			for _, other := range l.Parties {
				if _, ok := slots[other][id]; ok && other != name {
					ch.known[id] = other
				}
			}
		}
		r := slices.Clone(rows[rng.IntN(n)])
		r[0] = id
		kept = append(kept, r)
		ch.added = append(ch.added, id)
	}
	tmp := path + ".tmp"
	out, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(out)
	if err := w.Write(header); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteAll(kept); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	return map[string]change{name: ch}
}

func hup(t *testing.T, cl *demo.Cluster, name string) {
	t.Helper()
	pid, ok := cl.PIDs()[name]
	if !ok {
		t.Fatalf("no process %s", name)
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

// waitEpoch waits until the consortium is ready on an epoch other than old.
func waitEpoch(t *testing.T, client pb.CoordinatorClient, old string) *pb.ConsortiumStatus {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		st, err := client.Status(cctx, &pb.StatusRequest{})
		cancel()
		if err == nil && st.Ready && st.EpochId != old && st.EpochId != "" {
			return st
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no new epoch after %s: %+v", old, coordinatorStatus(t, client))
	return nil
}

// partySlots reads every party's stored alignment: person id → slot.
func partySlots(t *testing.T, l *demo.Layout) map[string]map[string]uint32 {
	t.Helper()
	out := map[string]map[string]uint32{}
	for _, name := range l.Parties {
		ib, err := os.ReadFile(l.Path("parties", name, "state", "aligned.ids"))
		if err != nil {
			t.Fatal(err)
		}
		rb, err := os.ReadFile(l.Path("parties", name, "state", "ranks.bin"))
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]uint32{}
		for i := 0; len(ib) > 0; i++ {
			n := binary.BigEndian.Uint32(ib)
			m[string(ib[4:4+n])] = binary.LittleEndian.Uint32(rb[4*i:])
			ib = ib[4+n:]
		}
		if len(m)*4 != len(rb) {
			t.Fatalf("%s: %d ids, %d ranks", name, len(m), len(rb)/4)
		}
		out[name] = m
	}
	return out
}

// checkSlots: unchanged people kept their slots at every party, removed
// people have none, added people known at another party took its slot and
// new people took slots no one held before.
func checkSlots(t *testing.T, before, after map[string]map[string]uint32, changed map[string]change) {
	t.Helper()
	used := map[uint32]bool{}
	for _, m := range before {
		for _, s := range m {
			used[s] = true
		}
	}
	for name, m := range before {
		ch := changed[name]
		for id, s := range m {
			if slices.Contains(ch.removed, id) {
				if _, ok := after[name][id]; ok {
					t.Fatalf("%s: a removed person still has a slot", name)
				}
				continue
			}
			if got, ok := after[name][id]; !ok || got != s {
				t.Fatalf("%s: an unchanged person moved from slot %d to %d (present %v)", name, s, got, ok)
			}
		}
		for _, id := range ch.added {
			got, ok := after[name][id]
			if !ok {
				t.Fatalf("%s: an added person has no slot", name)
			}
			if other, known := ch.known[id]; known {
				if want := before[other][id]; got != want {
					t.Fatalf("%s: a person known at %s got slot %d, not its slot %d there", name, other, got, want)
				}
			} else if used[got] {
				t.Fatalf("%s: a new person got slot %d, which was in use", name, got)
			}
		}
	}
}

// ledgerEntries reads the live ledger, verified.
func ledgerEntries(t *testing.T, l *demo.Layout) []auditor.Logged {
	_, all := verifiedLedger(t, l)
	return all
}

// epochEntry is the EPOCH entry of an epoch.
func epochEntry(t *testing.T, l *demo.Layout, epoch string) entry.Epoch {
	t.Helper()
	num, err := wire.EpochNumber(epoch)
	if err != nil {
		t.Fatal(err)
	}
	for _, lg := range ledgerEntries(t, l) {
		if e, ok := lg.Entry.(entry.Epoch); ok && e.EpochID == num {
			return e
		}
	}
	t.Fatalf("no EPOCH entry for %s", epoch)
	return entry.Epoch{}
}

// resultAfterEpoch reads the verified ledger: the QUERY entry logged last
// before the EPOCH entry of epoch, committed on the epoch that one
// extends, has its RESULT after that EPOCH.
func resultAfterEpoch(t *testing.T, l *demo.Layout, epoch string) bool {
	t.Helper()
	all := ledgerEntries(t, l)
	num, err := wire.EpochNumber(epoch)
	if err != nil {
		t.Fatal(err)
	}
	var ep *entry.Epoch
	var q *entry.Query
	for _, lg := range all {
		switch v := lg.Entry.(type) {
		case entry.Epoch:
			if v.EpochID == num {
				ep = &v
			}
		case entry.Query:
			if ep == nil {
				q = &v
			}
		case entry.Result:
			if ep != nil && q != nil && v.QueryID == q.QueryID {
				return q.EpochID == ep.Previous
			}
		}
	}
	if ep == nil || ep.Previous == 0 {
		t.Fatalf("no incremental EPOCH entry for %s", epoch)
	}
	return false
}

// TestIncrementalEpochMeasured times, with the real daemons, a full
// alignment and then an incremental epoch in which the bank adds 1% new
// people and removes 0.5%, from the coordinator's log lines ("record
// alignment finished", "incremental epoch finished": elapsed_s). It
// takes minutes at a million people and only runs when asked:
//
//	MPCQ_MEASURE=1 MPCQ_MEASURE_PEOPLE=1000000 go test -timeout 60m -run TestIncrementalEpochMeasured -v ./e2e
func TestIncrementalEpochMeasured(t *testing.T) {
	if os.Getenv("MPCQ_MEASURE") == "" {
		t.Skip("set MPCQ_MEASURE=1 to measure")
	}
	people := 100000
	if v, err := strconv.Atoi(os.Getenv("MPCQ_MEASURE_PEOPLE")); err == nil && v > 0 {
		people = v
	}
	l, err := demo.Setup(t.TempDir(), demo.Options{People: people, Seed: 7, ParamSet: mpc.DefaultSetName, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	cl := newCluster(t, l)
	if err := cl.StartAll(); err != nil {
		t.Fatal(err)
	}
	_, client, closeFn, err := l.Analyst()
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Minute)
	defer cancel()
	if _, err := demo.WaitReady(ctx, client, func(s string) { t.Log(s) }); err != nil {
		t.Fatal(err)
	}
	st0 := coordinatorStatus(t, client)
	rng := rand.New(rand.NewPCG(1, 2))
	ch := changeCSV(t, l, "bank", rng, partySlots(t, l))["bank"]
	hup(t, cl, "bank")
	st1 := waitEpoch(t, client, st0.EpochId)
	logb, err := os.ReadFile(l.Path("logs", "coordinator.log"))
	if err != nil {
		t.Fatal(err)
	}
	var full, inc float64
	for _, line := range strings.Split(string(logb), "\n") {
		var m struct {
			Message string  `json:"message"`
			Elapsed float64 `json:"elapsed_s"`
		}
		if json.Unmarshal([]byte(line), &m) != nil {
			continue
		}
		switch m.Message {
		case "record alignment finished":
			full = m.Elapsed
		case "incremental epoch finished":
			inc = m.Elapsed
		}
	}
	t.Logf("%d people: full alignment %.1f s (union %d); incremental epoch with the bank adding %d and removing %d: %.2f s (union %d)",
		people, full, st0.Entities, len(ch.added), len(ch.removed), inc, st1.Entities)
}

// TestNoPersonIDInIncrementalEpoch runs the coordinator in-process,
// records every message it receives from the three party processes, then
// changes the bank's people (new ids among them) and waits for the
// incremental epoch: no person id, old or new, reaches the coordinator,
// and the recorder did see the added people's blinded list.
func TestNoPersonIDInIncrementalEpoch(t *testing.T) {
	l, err := demo.Setup(t.TempDir(), demo.Options{People: 1500, Seed: 13, ParamSet: "insecure-test-n12", AllowInsecure: true, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	cl := newCluster(t, l)
	for _, name := range l.Parties {
		if err := cl.StartParty(name); err != nil {
			t.Fatal(err)
		}
	}
	rec := startRecordingCoordinator(t, l)
	waitReady(t, l)
	_, client, closeFn, err := l.Analyst()
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	st0 := coordinatorStatus(t, client)
	rec.mu.Lock()
	before := rec.n
	rec.mu.Unlock()
	ch := changeCSV(t, l, "bank", rand.New(rand.NewPCG(5, 6)), partySlots(t, l))["bank"]
	hup(t, cl, "bank")
	waitEpoch(t, client, st0.EpochId)
	db, err := demo.LoadDB(l)
	if err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	all := bytes.Join(rec.msgs, []byte{0})
	// The added people's list, blinded by the bank then by each other
	// party, passed through the coordinator: 32 bytes each, three times.
	grown := 0
	for _, m := range rec.msgs[before:] {
		grown += len(m)
	}
	if grown < 3*32*len(ch.added) {
		t.Fatalf("%d bytes recorded during the incremental epoch, fewer than its blinded lists (%d)", grown, 3*32*len(ch.added))
	}
	ids := append(slices.Clone(ch.added), ch.removed...)
	for _, rows := range db.Tables {
		for id := range rows {
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		if bytes.Contains(all, []byte(id)) {
			t.Fatalf("a person id reached the coordinator")
		}
	}
	t.Logf("%d messages checked against %d person ids (%d added in the incremental epoch)", rec.n, len(ids), len(ch.added))
}

// TestIncrementalEpochPostgres: people inserted into and deleted from the
// bank's PostgreSQL table start an incremental epoch (SIGHUP checks the
// keys at once, as the periodic check would), after which a query equals
// the database, and the EPOCH entry extends the previous epoch.
func TestIncrementalEpochPostgres(t *testing.T) {
	l, cl, pg := startPostgresCluster(t, 1500, "bank")
	p, client, closeFn, err := l.Analyst()
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	db, err := pgx.Connect(ctx, pg.ConnString("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	st0 := coordinatorStatus(t, client)
	before := partySlots(t, l)
	// 1% new people (copies of existing rows' values), 0.5% deleted.
	if _, err := db.Exec(ctx, `INSERT INTO bank (person_id, district, accounts, balance, cash_deposits_30d, transfers_abroad_30d)
		SELECT 'pg-new-' || person_id, district, accounts, balance, cash_deposits_30d, transfers_abroad_30d FROM bank ORDER BY person_id LIMIT (SELECT count(*) / 100 FROM bank)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `DELETE FROM bank WHERE person_id IN (SELECT person_id FROM bank WHERE person_id NOT LIKE 'pg-new-%' ORDER BY person_id DESC LIMIT (SELECT count(*) / 200 FROM bank))`); err != nil {
		t.Fatal(err)
	}
	hup(t, cl, "bank")
	st1 := waitEpoch(t, client, st0.EpochId)
	if e := epochEntry(t, l, st1.EpochId); e.Previous == 0 {
		t.Fatalf("the change ran a full alignment: %+v", e)
	}
	after := partySlots(t, l)
	for id, s := range before["bank"] {
		if got, ok := after["bank"][id]; ok && got != s {
			t.Fatalf("a kept person moved from slot %d to %d", s, got)
		}
	}
	const q = `SELECT COUNT(*), SUM(bank.cash_deposits_30d) FROM bank WHERE bank.cash_deposits_30d > 50000`
	var n, sum int64
	if err := db.QueryRow(ctx, `SELECT count(*), coalesce(sum(cash_deposits_30d), 0) FROM bank WHERE cash_deposits_30d > 50000`).Scan(&n, &sum); err != nil {
		t.Fatal(err)
	}
	res, err := p.Query(ctx, client, analyst.Request{SQL: q}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Rows[0]; got[0] != itoa(n) || got[1] != itoa(sum) {
		t.Fatalf("encrypted %v, PostgreSQL %d %d", got, n, sum)
	}
	t.Logf("epoch %s (%d) → %s (%d); %d people, sum %d", st0.EpochId, st0.Entities, st1.EpochId, st1.Entities, n, sum)
}
