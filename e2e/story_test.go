package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mpcq/mpcq/internal/analyst"
	"github.com/mpcq/mpcq/internal/auditor"
	"github.com/mpcq/mpcq/internal/demo"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// runTool runs one of the built commands and returns its combined output.
func runTool(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(binDir, name), args...).CombinedOutput()
	return string(out), err
}

// queryIDOf watches a query's progress: it records the query ID from the
// "planned" event and calls at once, when the query is committed.
func queryIDOf(id *string, at func()) func(*pb.Progress) {
	done := false
	return func(pr *pb.Progress) {
		if pr.Stage == "planned" {
			if f := strings.Fields(pr.Detail); len(f) > 1 && f[0] == "query" {
				*id = strings.TrimSuffix(f[1], ":")
			}
		}
		if pr.Stage == "committed" && !done && at != nil {
			done = true
			at()
		}
	}
}

// ledgerRow polls the live ledger, as an auditor reads it, until query id
// has a row that ok accepts, and returns it.
func ledgerRow(t *testing.T, l *demo.Layout, id string, ok func(auditor.QueryRow) bool) auditor.QueryRow {
	t.Helper()
	a, err := auditor.Load(l.AuditorDir())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	var last string
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		fetch, err := a.Fetcher(ctx, "")
		if err == nil {
			var rows []auditor.QueryRow
			if _, rows, err = a.Verify(ctx, fetch, nil); err == nil {
				for _, r := range rows {
					if r.QueryID == id {
						if ok(r) {
							cancel()
							return r
						}
						last = r.Status + " " + r.Reason
					}
				}
			}
		}
		cancel()
		if err != nil {
			last = err.Error()
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("query %s: no matching ledger row (last seen: %s)", id, last)
	return auditor.QueryRow{}
}

// TestLedgerTellsTheWholeStory checks that the ledger records how every
// query ended, whatever happened to it, and that auditors see it safely.
func TestLedgerTellsTheWholeStory(t *testing.T) {
	l, cl := startCluster(t, testPeople)
	p, client, closeFn, err := l.Analyst()
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	ctx := context.Background()
	sql := demo.Samples()[0].SQL // three parties

	out, err := runTool(t, "mpcaudit", "--profile", l.AuditorDir(), "verify")
	if err != nil || !strings.Contains(out, "first online verification") {
		t.Fatalf("first mpcaudit verify: %v\n%s", err, out)
	}
	// An older copy of the log, to roll back to at the end.
	oldLog := filepath.Join(t.TempDir(), "ledger")
	if out, err := exec.Command("cp", "-a", l.Path("coordinator", "state", "ledger"), oldLog).CombinedOutput(); err != nil {
		t.Fatalf("copy: %v %s", err, out)
	}

	t.Run("purpose with control characters is refused", func(t *testing.T) {
		apk, err := os.ReadFile(l.Path("analyst", analyst.PublicKeyFile))
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ purpose, basis, want string }{
			{"routine\n2026-11-29T23:00:00Z  q-fake  alice  audit", "CASE-1", "purpose contains the control character U+000A at character 8"},
			{"routine", "CASE-1\x1b[2K", "legal basis contains the control character U+001B at character 7"},
		} {
			stream, err := client.Query(ctx, &pb.QueryRequest{Sql: sql, Purpose: tc.purpose, LegalBasis: tc.basis, AnalystPublicKey: apk})
			if err == nil {
				_, err = stream.Recv()
			}
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("purpose %q, legal basis %q: %v; want InvalidArgument saying %q", tc.purpose, tc.basis, err, tc.want)
			}
		}
	})

	t.Run("an analyst's cancellation blames no party", func(t *testing.T) {
		qctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var id string
		_, err := p.Query(qctx, client, analyst.Request{SQL: sql}, queryIDOf(&id, cancel))
		if err == nil || id == "" {
			t.Fatalf("cancelled query: id %q, %v", id, err)
		}
		r := ledgerRow(t, l, id, func(r auditor.QueryRow) bool { return r.Status != "committed" })
		if r.Status != "failed" || !strings.HasPrefix(r.Reason, "cancelled by the analyst") || len(r.Parties) != 0 {
			t.Fatalf("cancelled query on the ledger: %+v", r)
		}
	})

	t.Run("Ctrl-C in mpcq cancels the query and says so", func(t *testing.T) {
		// Interrupt once the query is committed; a query that still beats
		// the signal (exit 0) is run again, a few times.
		for attempt := 0; attempt < 3; attempt++ {
			cmd := exec.Command(filepath.Join(binDir, "mpcq"), "--profile", l.AnalystDir(), "query", sql)
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var id string
			var lines []string
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				line := sc.Text()
				lines = append(lines, line)
				if f := strings.Fields(line); len(f) > 4 && f[2] == "planned:" && f[3] == "query" {
					id = strings.TrimSuffix(f[4], ":")
				}
				if strings.Contains(line, "] committed:") {
					_ = cmd.Process.Signal(os.Interrupt)
					break
				}
			}
			for sc.Scan() {
				lines = append(lines, sc.Text())
			}
			err = cmd.Wait()
			if err == nil {
				continue // answered before the signal arrived
			}
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 130 || !strings.Contains(strings.Join(lines, "\n"), "interrupted: the query was cancelled") || id == "" {
				t.Fatalf("mpcq after Ctrl-C: %v, query %q, stderr:\n%s", err, id, strings.Join(lines, "\n"))
			}
			r := ledgerRow(t, l, id, func(r auditor.QueryRow) bool { return r.Status != "committed" })
			if r.Status == "answered" {
				continue // the RESULT was recorded just before the cancellation arrived
			}
			if r.Status != "failed" || !strings.HasPrefix(r.Reason, "cancelled by the analyst") {
				t.Fatalf("the interrupted query on the ledger: %+v", r)
			}
			return
		}
		t.Fatal("three queries were answered before Ctrl-C reached mpcq")
	})

	t.Run("a coordinator killed mid-query leaves FAILURE interrupted", func(t *testing.T) {
		var id string
		_, err := p.Query(ctx, client, analyst.Request{SQL: sql}, queryIDOf(&id, func() {
			if err := cl.Kill("coordinator"); err != nil {
				t.Error(err)
			}
		}))
		if err == nil || id == "" {
			t.Fatalf("query through a killed coordinator: id %q, %v", id, err)
		}
		if err := cl.StartCoordinator(); err != nil {
			t.Fatal(err)
		}
		waitReady(t, l)
		r := ledgerRow(t, l, id, func(r auditor.QueryRow) bool { return r.Status != "committed" })
		if r.Status != "failed" || !strings.HasPrefix(r.Reason, "interrupted") || len(r.Parties) != 0 {
			t.Fatalf("interrupted query on the ledger: %+v", r)
		}
	})

	t.Run("a QUERY the parties did not cosign is followed by its FAILURE", func(t *testing.T) {
		// The utility's witness cannot store its state (as with a full
		// disk): it refuses to cosign.
		// A directory where the state file goes makes every save fail;
		// the witness keeps its state in memory and saves it once it can.
		state := l.Path("parties", "utility", "state", "witness.json")
		if err := os.Remove(state); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(state, "blocked"), 0o700); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if fi, err := os.Stat(state); err == nil && fi.IsDir() {
				_ = os.RemoveAll(state)
			}
		}()
		qctx, cancel := context.WithTimeout(ctx, 8*time.Second)
		defer cancel()
		var id string
		_, err = p.Query(qctx, client, analyst.Request{SQL: sql}, queryIDOf(&id, nil))
		if err == nil || id == "" {
			t.Fatalf("query while a witness refuses: id %q, %v", id, err)
		}
		out, err := runTool(t, "mpcq", "--profile", l.AnalystDir(), "status")
		if err == nil || !strings.Contains(out, "party utility refuses to cosign") || strings.Contains(out, "\nready") {
			t.Fatalf("mpcq status while utility refuses to cosign: %v\n%s", err, out)
		}
		t.Logf("mpcq status while a witness refuses:\n%s", out)
		// Back to normal: the QUERY is published, followed by its FAILURE.
		if err := os.RemoveAll(state); err != nil {
			t.Fatal(err)
		}
		r := ledgerRow(t, l, id, func(r auditor.QueryRow) bool { return r.Status != "committed" })
		if r.Status != "failed" || !strings.HasPrefix(r.Reason, "not committed") {
			t.Fatalf("refused QUERY on the ledger: %+v", r)
		}
		// The refusals were retried with backoff and logged once, not
		// every checkpoint interval (100 ms) as before.
		coord, _ := os.ReadFile(l.Path("logs", "coordinator.log"))
		util, _ := os.ReadFile(l.Path("logs", "utility.log"))
		if n := strings.Count(string(coord), "cosigner refuses to cosign"); n != 1 {
			t.Errorf("coordinator logged %d refusal warnings, want 1", n)
		}
		if n := strings.Count(string(coord), "publishCheckpoint"); n > 3 {
			t.Errorf("coordinator logged %d tessera publishCheckpoint lines, want them throttled", n)
		}
		if n := strings.Count(string(util), "refused to cosign"); n > 20 {
			t.Errorf("the refusing party was asked %d times; want backoff", n)
		}
		deadline := time.Now().Add(time.Minute)
		for {
			out, err = runTool(t, "mpcq", "--profile", l.AnalystDir(), "status")
			if err == nil && strings.Contains(out, "ledger: healthy") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("mpcq status after the witness recovered: %v\n%s", err, out)
			}
			time.Sleep(time.Second)
		}
	})

	t.Run("mpcaudit shows every ending and remembers the log", func(t *testing.T) {
		out, err := runTool(t, "mpcaudit", "--profile", l.AuditorDir(), "verify")
		if err != nil || !strings.Contains(out, "extends the checkpoint this profile verified before") || strings.Contains(out, "open: QUERY") {
			t.Fatalf("second mpcaudit verify: %v\n%s", err, out)
		}
		out, err = runTool(t, "mpcaudit", "--profile", l.AuditorDir(), "show", "-o", "json")
		if err != nil {
			t.Fatalf("mpcaudit show: %v\n%s", err, out)
		}
		var rows []auditor.QueryRow
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, r := range rows {
			if r.Status == "committed" {
				t.Fatalf("a QUERY with neither RESULT nor FAILURE: %+v", r)
			}
			for _, reason := range []string{"cancelled by the analyst", "interrupted", "not committed"} {
				if strings.HasPrefix(r.Reason, reason) {
					seen[reason] = true
				}
			}
		}
		if len(seen) != 3 {
			t.Fatalf("failure reasons seen: %v\n%s", seen, out)
		}
	})

	t.Run("mpcaudit verify detects a rollback between runs", func(t *testing.T) {
		stateFile := filepath.Join(l.AuditorDir(), auditor.StateFile)
		before, err := os.ReadFile(stateFile)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.Kill("coordinator"); err != nil {
			t.Fatal(err)
		}
		live := l.Path("coordinator", "state", "ledger")
		if err := os.RemoveAll(live); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("cp", "-a", oldLog, live).CombinedOutput(); err != nil {
			t.Fatalf("copy: %v %s", err, out)
		}
		if err := cl.StartCoordinator(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(time.Minute)
		var out string
		for {
			out, err = runTool(t, "mpcaudit", "--profile", l.AuditorDir(), "verify", "--no-archive")
			if strings.Contains(out, "rolled back") || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Second)
		}
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(out, "the ledger was rolled back") {
			t.Fatalf("mpcaudit verify of a rolled-back log: %v\n%s", err, out)
		}
		var st auditor.State
		if err := json.Unmarshal(before, &st); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "this profile verified size "+strconv.FormatUint(st.Size, 10)) {
			t.Fatalf("the error does not name the remembered checkpoint (size %d):\n%s", st.Size, out)
		}
		after, _ := os.ReadFile(stateFile)
		if string(after) != string(before) {
			t.Fatal("the rolled-back log overwrote the remembered checkpoint")
		}
		t.Logf("rollback: %s", strings.TrimSpace(out))
	})
}
