package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mpcq/mpcq/internal/auditor"
	"github.com/mpcq/mpcq/internal/demo"
)

// auditLedger checks the live ledger as compliance staff would, then a
// tampered copy of it with the mpcaudit command.
func auditLedger(t *testing.T, l *demo.Layout) {
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
	openings, err := a.Archive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rep, rows, err := a.Verify(ctx, fetch, openings)
	if err != nil {
		t.Fatalf("live ledger: %v", err)
	}
	answered := 0
	for _, r := range rows {
		if r.Status == "answered" {
			answered++
			if r.Query == "" || r.LegalBasis == "" {
				t.Fatalf("query %s: openings not shown: %+v", r.QueryID, r)
			}
		}
	}
	if answered < len(demo.Samples()) || rep.OpeningsChecked < answered {
		t.Fatalf("%d answered queries, %d openings checked; want at least %d", answered, rep.OpeningsChecked, len(demo.Samples()))
	}

	// A receipt for one query, written now and checked offline later.
	mpcaudit := filepath.Join(binDir, "mpcaudit")
	receipt := filepath.Join(t.TempDir(), "q.receipt")
	out, err := exec.Command(mpcaudit, "--profile", l.AuditorDir(), "prove", rows[len(rows)-1].QueryID, "--out", receipt).CombinedOutput()
	if err != nil {
		t.Fatalf("mpcaudit prove: %v\n%s", err, out)
	}
	out, err = exec.Command(mpcaudit, "--profile", l.AuditorDir(), "check-receipt", receipt).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "receipt OK") || !strings.Contains(string(out), rows[len(rows)-1].QueryID) {
		t.Fatalf("mpcaudit check-receipt: %v\n%s", err, out)
	}
	rb, _ := os.ReadFile(receipt)
	rb[len(rb)/3] ^= 0x04
	bad := receipt + ".bad"
	if err := os.WriteFile(bad, rb, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(mpcaudit, "--profile", l.AuditorDir(), "check-receipt", bad).CombinedOutput(); err == nil {
		t.Fatalf("a tampered receipt verified:\n%s", out)
	}
	out, err = exec.Command(mpcaudit, "--profile", l.AuditorDir(), "show", "-o", "json").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"legal_basis":"DEMO-CASE-0001"`) {
		t.Fatalf("mpcaudit show -o json: %v\n%s", err, out)
	}

	// A copy of the log with one byte flipped in the entry bundle.
	src := l.Path("coordinator", "state", "ledger")
	cp := t.TempDir()
	if out, err := exec.Command("cp", "-a", src+"/.", cp).CombinedOutput(); err != nil {
		t.Fatalf("copy: %v %s", err, out)
	}
	out, err = exec.Command(mpcaudit, "--profile", l.AuditorDir(), "verify", "--log-dir", cp, "--no-archive").CombinedOutput()
	if err != nil {
		t.Fatalf("mpcaudit verify on an intact copy: %v\n%s", err, out)
	}
	tamperLastBundle(t, cp)
	out, err = exec.Command(mpcaudit, "--profile", l.AuditorDir(), "verify", "--log-dir", cp, "--no-archive").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "does NOT verify") || !strings.Contains(string(out), "tile/entries") {
		t.Fatalf("mpcaudit verify on a tampered copy: %v\n%s", err, out)
	}
	t.Logf("tampered copy: %s", strings.TrimSpace(string(out)))
}

// tamperLastBundle flips one byte in the middle of the entry bundle that
// holds a log copy's last entries (the first, partial bundle: the test
// ledgers hold fewer than 256 entries).
func tamperLastBundle(t *testing.T, cp string) {
	t.Helper()
	cpText, err := os.ReadFile(filepath.Join(cp, "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	size, err := strconv.Atoi(strings.Split(string(cpText), "\n")[1])
	if err != nil || size >= 256 {
		t.Fatalf("checkpoint size %d (%v): the test expects a partial first bundle", size, err)
	}
	target := filepath.Join(cp, "tile", "entries", "000.p", strconv.Itoa(size))
	b, err := os.ReadFile(target)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(target, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
