package console

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mpcq/mpcq/internal/auditor"
	"github.com/mpcq/mpcq/ledger/audit"
	"github.com/mpcq/mpcq/ledger/entry"
)

// fakeBackend serves a fixed snapshot, or a fixed error.
type fakeBackend struct {
	snap *Snapshot
	err  error
}

func (f *fakeBackend) Verify(context.Context) (*Snapshot, error) { return f.snap, f.err }
func (f *fakeBackend) Receipt(_ context.Context, id string) ([]byte, error) {
	return []byte("receipt of " + id), nil
}
func (f *fakeBackend) Inclusion(context.Context, uint64) ([][]byte, uint64, error) {
	return [][]byte{{0xab, 0xcd}}, 9, nil
}

const hostile = "<script>alert(1)</script>\x1b[31mred\u202e"

// hostileSnapshot is built from in-memory entries with attacker-controlled
// text in every field a page shows.
func hostileSnapshot() *Snapshot {
	rows := []auditor.QueryRow{{Index: 3, QueryID: "q1", Time: "2026-11-30T09:00:00Z", Analyst: "mpcq://analyst/" + hostile,
		Purpose: hostile, LegalBasis: hostile, Query: "SELECT COUNT(*) FROM bank WHERE bank.district = '" + hostile + "'",
		Status: "failed", Epsilon: "exact", Reason: hostile, Case: hostile, Warrant: "ab12"}}
	all := []auditor.Logged{
		{Index: 0, Entry: entry.Epoch{EpochID: 1, SetSizes: []entry.PartySize{{Party: hostile, Size: 3}}}},
		{Index: 1, Entry: entry.Policy{Party: hostile, Version: 1, Content: []byte(hostile)}},
		{Index: 2, Entry: entry.Epoch{EpochID: 2, Previous: 1, UnionSize: 4, SetSizes: []entry.PartySize{{Party: hostile, Size: 4}},
			Changes: []entry.PartyChange{{Party: hostile, Added: 2, Removed: 1}}}},
		{Index: 3, Entry: entry.Query{QueryID: "q1", Analyst: rows[0].Analyst, ParamSet: hostile}},
		{Index: 4, Entry: entry.Failure{QueryID: "q1", Reason: hostile, Party: hostile}},
	}
	rep := audit.Report{Origin: "o", Size: 5, Cosignatures: []audit.Cosignature{{Name: "bank"}, {Name: hostile}}}
	return Build(rep, rows, all, DefaultThresholds, time.Now(), false)
}

func newTestServer(t *testing.T, b Backend) *httptest.Server {
	t.Helper()
	s, err := New(Config{Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	s.Check(context.Background())
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts
}

func get(t *testing.T, ts *httptest.Server, path string) (int, string) {
	t.Helper()
	resp, err := ts.Client().Get(ts.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestEscaping: purpose, legal basis, SQL, analyst, case, reason, party
// names and policies from the ledger or the archive never reach a page
// unescaped.
func TestEscaping(t *testing.T) {
	ts := newTestServer(t, &fakeBackend{snap: hostileSnapshot()})
	for _, path := range []string{"/", "/query/q1", "/analyst?" + url.Values{"id": {"mpcq://analyst/" + hostile}}.Encode(),
		"/case?" + url.Values{"ref": {hostile}}.Encode(), "/policies", "/ceremonies", "/?q=" + url.QueryEscape(hostile)} {
		t.Run(path, func(t *testing.T) {
			code, body := get(t, ts, path)
			if code != http.StatusOK {
				t.Fatalf("status %d\n%s", code, body)
			}
			if strings.Contains(body, "<script>") || strings.Contains(body, "\x1b") || strings.Contains(body, "\u202e") {
				t.Fatalf("raw hostile text in the page:\n%s", body)
			}
			if !strings.Contains(body, `&lt;script&gt;alert(1)&lt;/script&gt;\x1b[31mred\u202e`) {
				t.Fatalf("the escaped form is not in the page:\n%s", body)
			}
		})
	}
}

// TestFailureIsSticky: a verification failure names file and entry on
// every page and stays after the log verifies again.
func TestFailureIsSticky(t *testing.T) {
	b := &fakeBackend{err: &audit.Error{Path: "tile/entries/000.p/7", Index: 6, HasIndex: true, Err: audit.ErrCorrupt}}
	s, err := New(Config{Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	s.Check(context.Background())
	b.snap, b.err = hostileSnapshot(), nil
	s.Check(context.Background())
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	for _, path := range []string{"/", "/policies", "/query/q1"} {
		_, body := get(t, ts, path)
		if !strings.Contains(body, `class="state bad"`) || !strings.Contains(body, "at entry 6") || !strings.Contains(body, "tile/entries/000.p/7") {
			t.Fatalf("%s does not show the failure:\n%s", path, body)
		}
	}
	if code, _ := get(t, ts, "/query/q1/receipt"); code != http.StatusServiceUnavailable {
		t.Fatalf("receipt from an unverified log: status %d", code)
	}
}

// TestNothingBeforeVerified: before the first verification, no data.
func TestNothingBeforeVerified(t *testing.T) {
	s, err := New(Config{Backend: &fakeBackend{err: errors.New("unreachable")}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	_, body := get(t, ts, "/")
	if !strings.Contains(body, "nothing is shown until it verifies") || strings.Contains(body, "query-row") {
		t.Fatalf("page before verification:\n%s", body)
	}
}

func TestRoutes(t *testing.T) {
	ts := newTestServer(t, &fakeBackend{snap: hostileSnapshot()})
	for _, tc := range []struct {
		path string
		code int
		want string
	}{
		{"/query/q1/receipt", 200, "receipt of q1"},
		{"/query/nope", 404, "No such query"},
		{"/?status=bogus", 400, "status"},
		{"/?status=failed", 200, "1 of 1 queries"},
		{"/?status=answered", 200, "0 of 1 queries"},
		{"/?since=2026-12-01", 200, "0 of 1 queries"},
		{"/static/style.css", 200, "body"},
		{"/state.json", 200, `"verified":true`},
	} {
		code, body := get(t, ts, tc.path)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s: status %d, want %d with %q:\n%.400s", tc.path, code, tc.code, tc.want, body)
		}
	}
	req, _ := http.NewRequest("GET", ts.URL+"/", nil)
	req.Host = "attacker.example"
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("a non-loopback Host: status %d", resp.StatusCode)
	}
}

func TestStepChart(t *testing.T) {
	c := StepChart("t", []Sample{{At: t0, Value: 1}, {At: t0.Add(time.Hour), Value: 2}}, func(v float64) string { return "n" })
	if c.Empty || len(c.Dots) != 2 || c.Dots[1].X != chartW-chartPad || c.Dots[1].Y != chartPad {
		t.Fatalf("chart %+v", c)
	}
	if !StepChart("t", nil, nil).Empty {
		t.Fatal("no samples: not empty")
	}
}

// An incremental EPOCH shows the epoch it extends and each party's change.
func TestIncrementalEpochShown(t *testing.T) {
	ts := newTestServer(t, &fakeBackend{snap: hostileSnapshot()})
	_, body := get(t, ts, "/ceremonies")
	for _, want := range []string{"incremental epoch 2 on epoch 1, union of 4 identifiers", "2 added, 1 removed"} {
		if !strings.Contains(body, want) {
			t.Errorf("the ceremonies page lacks %q", want)
		}
	}
}
