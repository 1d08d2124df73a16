package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mpcq/mpcq/internal/analyst"
	"github.com/mpcq/mpcq/internal/freeport"
)

// TestConsole drives headless Chromium against the built mpcaudit serve on
// a live consortium's ledger: the timeline lists the queries run, a
// filter narrows them, a query page shows its SQL and a receipt that
// mpcaudit check-receipt accepts, a differencing series is flagged on the
// analyst's page, and a console serving a copy of the log turns red,
// naming the entry, once one byte of the copy is flipped. With
// MPCQ_SCREENSHOTS=1 it writes docs/console-*.png.
func TestConsole(t *testing.T) {
	chrome, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("the console's browser test needs Debian's chromium on PATH (apt-get install -y chromium; .ci/run installs it): %v", err)
	}
	l, _ := startCluster(t, testPeople)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	p, client, closeFn, err := l.Analyst()
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	// Two ordinary queries, then a series identical but for one constant.
	var ids []string
	run := func(sql, purpose string) string {
		t.Helper()
		res, err := p.Query(ctx, client, analyst.Request{SQL: sql, Purpose: purpose}, nil)
		if err != nil {
			t.Fatalf("query %q: %v", sql, err)
		}
		ids = append(ids, res.QueryID)
		return res.QueryID
	}
	run(`SELECT COUNT(*), SUM(bank.transfers_abroad_30d) FROM telecom JOIN bank USING (person_id) WHERE telecom.flagged_calls_30d > 20 AND bank.transfers_abroad_30d > 5`,
		"fraud ring: flagged calls and transfers abroad")
	run(`SELECT COUNT(*) FROM bank JOIN utility USING (person_id) WHERE bank.district = 'D03' AND utility.meter_tamper = 1`, "meter tampering in D03")
	var series []string
	for _, c := range []string{"50000", "60000", "70000"} {
		series = append(series, run("SELECT COUNT(*) FROM bank WHERE bank.cash_deposits_30d > "+c, "cash deposits series"))
	}

	port := freePort(t)
	base := "http://127.0.0.1:" + port
	startServe(t, base, "--profile", l.AuditorDir(), "serve", "--listen", "127.0.0.1:"+port, "--interval", "2s")
	waitState(t, base, func(s consoleState) bool { return s.Verified }, "verified")

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.Flag("no-sandbox", true),
		chromedp.WindowSize(1366, 900))
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	start := time.Now()
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, steps...); err != nil {
			t.Fatalf("browser, %s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("browser, text of %s: %v", sel, err)
		}
		return s
	}
	rowCount := func() int {
		t.Helper()
		n, err := chromedp.Run(bctx, chromedp.Nodes(chromedp.CSSAll("tr.query-row"), chromedp.AtLeast(0)))
		if err != nil {
			t.Fatalf("browser, rows: %v", err)
		}
		return len(n)
	}
	shot := func(name string) {
		t.Helper()
		if os.Getenv("MPCQ_SCREENSHOTS") != "1" {
			return
		}
		b, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)) // quality 100: PNG (below 100: JPEG)
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join("..", "docs", "console-"+name+".png"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The timeline lists every query run, under a green header.
	do("timeline", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#queries")))
	header, table := text("#ledger-state"), text("#queries")
	if !strings.Contains(header, "Verified up to entry") || !strings.Contains(header, "cosigned by all parties") {
		t.Fatalf("timeline header: %q", header)
	}
	for _, id := range ids {
		if !strings.Contains(table, id[:min(16, len(id))]) {
			t.Errorf("the timeline does not list query %s:\n%s", id, table)
		}
	}
	if n := rowCount(); n != len(ids) {
		t.Errorf("timeline: %d rows, want %d", n, len(ids))
	}
	shot("timeline")

	// A search through the form (keyboard: type, then Enter) narrows it.
	do("search", chromedp.SendKeys(chromedp.CSS(`input[name="q"]`), "cash deposits\r"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="q"][value="cash deposits"]`)))
	if n := rowCount(); n != len(series) {
		t.Errorf("search \"cash deposits\": %d rows, want %d", n, len(series))
	}
	do("status filter", chromedp.Navigate(base+"/?status=failed"), chromedp.WaitVisible(chromedp.CSS("#count")))
	if n := rowCount(); n != 0 {
		t.Errorf("status=failed lists %d queries, want none", n)
	}

	// A query's page: its SQL and a receipt that mpcaudit accepts.
	do("query page", chromedp.Navigate(base+"/"), chromedp.Click(chromedp.CSS(`a[href="/query/`+series[0]+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("#sql")))
	if sql := text("#sql"); !strings.Contains(sql, "bank.cash_deposits_30d > 50000") {
		t.Errorf("query page SQL: %q", sql)
	}
	// The plan per institution, compiled again, is the committed one.
	if pc := text("#plan-check"); !strings.Contains(pc, "hashes to the plan hash the QUERY entry commits") {
		t.Errorf("the query page's plan check says %q", pc)
	}
	href, err := chromedp.Run(bctx, chromedp.AttributeValue(chromedp.CSS("#receipt"), "href"))
	if err != nil || href.Value == "" {
		t.Fatalf("receipt link: %v %+v", err, href)
	}
	shot("query")
	resp, err := http.Get(base + href.Value)
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", href.Value, resp.Status, rb)
	}
	receipt := filepath.Join(t.TempDir(), "q.receipt")
	if err := os.WriteFile(receipt, rb, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runTool(t, "mpcaudit", "--profile", l.AuditorDir(), "check-receipt", receipt)
	if err != nil || !strings.Contains(out, "receipt OK") || !strings.Contains(out, series[0]) {
		t.Fatalf("mpcaudit check-receipt on the console's receipt: %v\n%s", err, out)
	}

	// The analyst's page flags the differencing series.
	do("analyst page", chromedp.Click(chromedp.CSS(`dl.facts a[href^="/analyst"]`)), chromedp.WaitVisible(chromedp.CSS("#flags")))
	if flags := text("#flags"); !strings.Contains(flags, "differencing") || !strings.Contains(flags, "3 queries with the same SQL except one WHERE condition") {
		t.Errorf("the analyst page does not flag the series:\n%s", flags)
	}
	shot("analyst")

	// A console on a copy of the log turns red when one byte is flipped.
	cp := t.TempDir()
	if out, err := exec.Command("cp", "-a", l.Path("coordinator", "state", "ledger")+"/.", cp).CombinedOutput(); err != nil {
		t.Fatalf("copy: %v %s", err, out)
	}
	port2 := freePort(t)
	base2 := "http://127.0.0.1:" + port2
	startServe(t, base2, "--profile", l.AuditorDir(), "serve", "--listen", "127.0.0.1:"+port2, "--interval", "1s", "--log-dir", cp, "--no-archive")
	waitState(t, base2, func(s consoleState) bool { return s.Verified }, "verified (copy)")
	tamperLastBundle(t, cp)
	waitState(t, base2, func(s consoleState) bool { return s.Failure != nil }, "red after tampering")
	do("tampered copy", chromedp.Navigate(base2+"/"), chromedp.WaitVisible(chromedp.CSS("#ledger-state")))
	header = text("#ledger-state")
	class, err := chromedp.Run(bctx, chromedp.AttributeValue(chromedp.CSS("#ledger-state"), "class"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(class.Value, "bad") || !strings.Contains(header, "does NOT verify at entry") || !strings.Contains(header, "tile/entries") {
		t.Fatalf("after tampering, header class %q: %q", class.Value, header)
	}
	t.Logf("tampered copy: %s", strings.Join(strings.Fields(header), " "))
	t.Logf("browser part took %s", time.Since(start).Round(time.Millisecond))
}

// consoleState is mpcaudit serve's /state.json.
type consoleState struct {
	Verified bool `json:"verified"`
	Failure  *struct {
		File  string `json:"File"`
		Entry uint64 `json:"Entry"`
	} `json:"failure"`
}

// startServe runs mpcaudit with args until the end of the test.
func startServe(t *testing.T, base string, args ...string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "mpcaudit"), args...)
	logf, err := os.Create(filepath.Join(t.TempDir(), "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("--- mpcaudit serve %s\n%s", base, b)
		}
		logf.Close()
	})
}

// waitState polls /state.json until ok.
func waitState(t *testing.T, base string, ok func(consoleState) bool, what string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	var last string
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/state.json")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = string(b)
			var s consoleState
			if json.Unmarshal(b, &s) == nil && ok(s) {
				return
			}
		} else {
			last = err.Error()
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("console %s: not %s after 2 minutes; last state %s", base, what, last)
}

func freePort(t *testing.T) string {
	t.Helper()
	a, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(a)
	return port
}
