package main

import (
	"bytes"
	"crypto/rand"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mpcq/mpcq/ledger/archive"
	"github.com/mpcq/mpcq/ledger/entry"
)

// legacyPurposeData encodes purpose data the way coordinators did before
// control characters were refused (entry.PurposeData now refuses them).
func legacyPurposeData(purpose, basis string) []byte {
	var b []byte
	for _, s := range []string{purpose, basis} {
		b = append(b, byte(len(s)>>8), byte(len(s)))
		b = append(b, s...)
	}
	return b
}

// forgedQuery writes a ledger whose one query q-evil was asked by analyst
// with purpose and caseRef (text a hostile coordinator may have forged),
// its openings in an archive, and then the entries after; it returns the
// log directory, the archive and the auditor profile.
func forgedQuery(t *testing.T, analyst, purpose, caseRef string, after ...entry.Entry) (logDir, archivePath, profile string) {
	t.Helper()
	archivePath = filepath.Join(t.TempDir(), "archive.db")
	qOpen, _ := entry.NewOpening(rand.Reader, []byte("SELECT COUNT(*) FROM bank"))
	pOpen, _ := entry.NewOpening(rand.Reader, legacyPurposeData(purpose, caseRef))
	arch, err := archive.Open(archivePath, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := arch.Put("q-evil", archive.Record{QueryID: "q-evil", QueryText: qOpen, Purpose: pOpen}); err != nil {
		t.Fatal(err)
	}
	_ = arch.Close()
	logDir, profile = writeLedger(t, []byte("ca"), append([]entry.Entry{
		entry.Ceremony{ParamSet: "test"},
		entry.Query{QueryID: "q-evil", QueryCommitment: qOpen.Commitment(), Analyst: analyst, PurposeCommitment: pOpen.Commitment(),
			ParamSet: "test", Time: 1_800_000_000},
	}, after...))
	return logDir, archivePath, profile
}

// A purpose committed with a forged table line (a legacy ledger, or a
// hostile coordinator) prints as one escaped line in mpcaudit show.
func TestShowEscapesForgedTableLine(t *testing.T) {
	forged := "routine check\n2026-11-29T23:00:00Z  q-innocent  alice  audit  WARRANT-1  answered  bank  SELECT 1"
	logDir, archivePath, profile := forgedQuery(t, "mallory\nx", forged, "CASE-9\x1b[2K\r\u202e",
		entry.Failure{QueryID: "q-evil", Reason: "interrupted"})
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"--profile", profile, "show", "--log-dir", logDir, "--archive", archivePath}, &out, &errb); code != 0 {
		t.Fatalf("mpcaudit show: exit %d\n%s", code, errb.String())
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("show printed %d lines for one query (a forged line got through):\n%s", len(lines), out.String())
	}
	if strings.ContainsAny(out.String(), "\r\x1b\u202e") || strings.Contains(lines[1], "q-innocent") && !strings.Contains(lines[1], `check\n2026`) {
		t.Fatalf("show printed raw control characters:\n%q", out.String())
	}
	for _, want := range []string{`routine check\n2026-11-29T23:00:00Z`, `CASE-9\x1b[2K\r\u202e`, `mallory\nx`} {
		if !strings.Contains(lines[1], want) {
			t.Fatalf("show line %q lacks the escaped %q", lines[1], want)
		}
	}
}
