package ledger_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mpcq/mpcq/ledger/audit"
	"github.com/mpcq/mpcq/ledger/internal/testlog"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// crashEnv carries the working directory to the child process.
const crashEnv = "MPCQ_LEDGER_CRASH_DIR"

// TestCrashChild is the child side of TestCrashSafety: it opens the log in
// $MPCQ_LEDGER_CRASH_DIR and appends from 4 goroutines until killed,
// printing "ack <entry seq> <index> <checkpoint size> <root hex>" after
// each Append returns.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("helper process for TestCrashSafety")
	}
	raw, err := os.ReadFile(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	round, err := strconv.Atoi(os.Getenv(crashEnv + "_ROUND"))
	if err != nil {
		t.Fatal(err)
	}
	keys := testlog.KeysFrom(t, strings.Split(strings.TrimSpace(string(raw)), "\n"))
	d := testlog.Open(t, keys, filepath.Join(dir, "log"), filepath.Join(dir, "state"))
	ctx := context.Background()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for n := 0; ; n++ {
				seq := round*1_000_000 + g*100_000 + n
				idx, cp, err := d.Log.Append(ctx, testlog.QueryEntry(t, seq))
				mu.Lock()
				if err != nil {
					fmt.Printf("err %d %v\n", seq, err)
				} else {
					fmt.Printf("ack %d %d %d %x\n", seq, idx, cp.Size, cp.Root)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

type ack struct {
	seq, index, size int
	root             []byte
}

// TestCrashSafety kills a process appending to the log with SIGKILL at
// arbitrary points, five times, then reopens the log and checks that
// every acknowledged entry is present at its index, that every
// acknowledged checkpoint is consistent with the final one, that the
// parties' witnesses accept the recovered log, and that the audit passes.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: runs and kills child processes")
	}
	dir := t.TempDir()
	keys := testlog.NewKeys(t, 3)
	if err := os.WriteFile(filepath.Join(dir, "keys"), []byte(strings.Join(keys.Strings(), "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "state"), 0o700); err != nil {
		t.Fatal(err)
	}

	var acks []ack
	// Kill times spread over the child's life: the first may land while it
	// is still opening the log, the others mid-append at varying phases of
	// batching, integration, cosigning and publication.
	kills := []time.Duration{250 * time.Millisecond, 700 * time.Millisecond, 1130 * time.Millisecond, 870 * time.Millisecond, 1310 * time.Millisecond}
	for round, killAfter := range kills {
		got := runAndKill(t, dir, round, killAfter)
		t.Logf("round %d: %d appends acknowledged before SIGKILL at %v", round, len(got), killAfter)
		acks = append(acks, got...)
	}
	if len(acks) == 0 {
		t.Fatal("no child acknowledged any append")
	}

	d := testlog.Open(t, keys, filepath.Join(dir, "log"), filepath.Join(dir, "state"))
	ctx := timeout(t, 30*time.Second)
	// The recovered log still publishes with every cosignature.
	if _, _, err := d.Log.Append(ctx, testlog.QueryEntry(t, 9_999_999)); err != nil {
		t.Fatalf("Append after crashes: %v", err)
	}
	final, err := d.Log.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range acks {
		got, err := d.Log.ReadEntry(ctx, uint64(a.index))
		if err != nil || !bytes.Equal(got, testlog.QueryEntry(t, a.seq)) {
			t.Fatalf("acknowledged entry %d at index %d lost or changed: %x, %v", a.seq, a.index, got, err)
		}
		p, err := d.Log.ConsistencyProof(ctx, uint64(a.size), final.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.VerifyConsistency(rfc6962.DefaultHasher, uint64(a.size), final.Size, p, a.root, final.Root); err != nil {
			t.Fatalf("acknowledged checkpoint size %d inconsistent with final size %d: %v", a.size, final.Size, err)
		}
	}
	for _, w := range d.Witnesses {
		if st := w.State(); st.Size != final.Size {
			t.Fatalf("witness %s at size %d, log at %d", w.Name(), st.Size, final.Size)
		}
	}
	rep, err := audit.Verify(ctx, audit.DirFetcher(d.Dir), keys.Log.Verifier, keys.Verifiers(), testlog.Origin)
	if err != nil {
		t.Fatalf("audit after crashes: %v", err)
	}
	t.Logf("after %d kills: %d acknowledged, final size %d, audit OK", len(kills), len(acks), rep.Size)
}

// runAndKill starts the child, lets it append for d, SIGKILLs it and
// returns the appends it acknowledged.
func runAndKill(t *testing.T, dir string, round int, d time.Duration) []ack {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir, fmt.Sprintf("%s_ROUND=%d", crashEnv, round))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acks []ack
	var errs []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) == 5 && f[0] == "ack":
				var a ack
				a.seq, _ = strconv.Atoi(f[1])
				a.index, _ = strconv.Atoi(f[2])
				a.size, _ = strconv.Atoi(f[3])
				a.root, _ = hex.DecodeString(f[4])
				acks = append(acks, a)
			case len(f) > 0 && f[0] == "err":
				errs = append(errs, sc.Text())
			}
		}
	}()
	time.Sleep(d)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	<-done
	if len(errs) > 0 {
		t.Fatalf("child reported Append errors: %q\nstderr: %s", errs, stderr.String())
	}
	return acks
}
