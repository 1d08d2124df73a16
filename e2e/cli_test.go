package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mpcq/mpcq/internal/analyst"
	"github.com/mpcq/mpcq/internal/demo"
)

// mpcqRun runs the built mpcq with args and returns its exit status,
// stdout and stderr apart.
func mpcqRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "mpcq"), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("mpcq %v: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// TestCLI runs mpcq against a live consortium: -o json of every command
// that prints is one JSON document on stdout (and --json still works),
// then with a party down and with the coordinator down, mpcq names the
// party, or the coordinator's address, instead of a transport dump.
func TestCLI(t *testing.T) {
	l, cl := startCluster(t, 500)
	db, err := demo.LoadDB(l)
	if err != nil {
		t.Fatal(err)
	}
	prof := []string{"--profile", l.AnalystDir()}
	s := demo.Samples()[1]

	t.Run("-o json", func(t *testing.T) {
		var status struct {
			Ready   bool
			Phase   string
			Parties []struct{ Name string }
		}
		var schema struct {
			Tables []struct {
				Name    string
				Columns []struct{ Name, Kind string }
			}
			Entities uint64
		}
		type result struct {
			QueryID string     `json:"query_id"`
			Rows    [][]uint64 `json:"rows"`
		}
		var res, alias result
		var explain struct {
			Plan struct {
				Canonical string
				Order     []string
				Parties   []struct {
					Table string
					Bytes int64 `json:"bytes_sent"`
				}
				EstimateS float64 `json:"estimate_s"`
			}
			Privacy []string
		}
		for _, tc := range []struct {
			args       []string
			into       any
			deprecated bool
		}{
			{[]string{"status", "-o", "json"}, &status, false},
			{[]string{"schema", "--output", "json"}, &schema, false},
			{[]string{"query", "-o", "json", "--purpose", "e2e", "--legal-basis", "TEST-CLI", s.SQL}, &res, false},
			{[]string{"query", "--json", "--quiet", s.SQL}, &alias, true},
			{[]string{"explain", "-o", "json", s.SQL}, &explain, false},
		} {
			code, out, errOut := mpcqRun(t, append(prof, tc.args...)...)
			if code != 0 {
				t.Fatalf("mpcq %v: exit %d\n%s", tc.args, code, errOut)
			}
			if err := json.Unmarshal([]byte(out), tc.into); err != nil {
				t.Fatalf("mpcq %v: stdout is not one JSON document: %v\n%s", tc.args, err, out)
			}
			if warned := strings.Contains(errOut, "Flag --json has been deprecated, use -o json"); warned != tc.deprecated {
				t.Errorf("mpcq %v: deprecation notice %v on stderr: %q", tc.args, warned, errOut)
			}
		}
		if !status.Ready || status.Phase != "ready" || len(status.Parties) != 3 {
			t.Errorf("status -o json: %+v", status)
		}
		if len(schema.Tables) != 3 || len(schema.Tables[0].Columns) == 0 || schema.Entities == 0 {
			t.Errorf("schema -o json: %+v", schema)
		}
		want := s.Expected(db)
		for _, r := range []result{res, alias} {
			if r.QueryID == "" || len(r.Rows) != 1 || !slices.Equal(r.Rows[0], want) {
				t.Errorf("query -o json gave %+v, plaintext %v", r, want)
			}
		}
		if explain.Plan.Canonical == "" || len(explain.Plan.Order) != len(explain.Plan.Parties) || len(explain.Plan.Parties) < 2 ||
			explain.Plan.Parties[0].Bytes == 0 || explain.Plan.EstimateS <= 0 || len(explain.Privacy) == 0 {
			t.Errorf("explain -o json: %+v", explain)
		}
	})

	t.Run("a party down is named", func(t *testing.T) {
		if err := cl.Kill("utility"); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := mpcqRun(t, append(prof, "status")...)
		if code != 1 || !strings.Contains(errOut, "party utility is down") || !strings.Contains(out, "DOWN") {
			t.Errorf("status with utility down: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
		// -o json: the status document on stdout, ready false, exit 1.
		code, out, errOut = mpcqRun(t, append(prof, "status", "-o", "json")...)
		var st struct {
			Ready   bool
			Parties []struct {
				Name string
				Up   bool
			}
		}
		if err := json.Unmarshal([]byte(out), &st); code != 1 || err != nil || st.Ready || !slices.ContainsFunc(st.Parties, func(p struct {
			Name string
			Up   bool
		}) bool {
			return p.Name == "utility" && !p.Up
		}) || !strings.Contains(errOut, "party utility is down") {
			t.Errorf("status -o json with utility down: exit %d, %v, %+v, stderr %q", code, err, st, errOut)
		}
		code, _, errOut = mpcqRun(t, append(prof, "query", "--quiet", "SELECT COUNT(*) FROM utility JOIN bank USING (person_id)")...)
		t.Logf("query with utility down: exit %d: %s", code, errOut)
		if code != 1 || !strings.Contains(errOut, "utility") || !strings.Contains(errOut, "mpcq status") || strings.Contains(errOut, "rpc error") || strings.Contains(errOut, "desc =") {
			t.Errorf("query with utility down: exit %d, stderr %q: want exit 1 naming utility, without a transport dump", code, errOut)
		}
	})

	t.Run("the coordinator down is named by its address", func(t *testing.T) {
		if err := cl.Kill("coordinator"); err != nil {
			t.Fatal(err)
		}
		p, err := analyst.Load(l.AnalystDir())
		if err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"status"}, {"schema", "-o", "json"}, {"query", s.SQL}} {
			code, out, errOut := mpcqRun(t, append(prof, args...)...)
			if code != 1 || out != "" || !strings.Contains(errOut, "cannot reach the coordinator at "+p.Config.Coordinator) ||
				!strings.Contains(errOut, "mpcq status") || strings.Contains(errOut, "rpc error") {
				t.Errorf("mpcq %v with the coordinator down: exit %d, stdout %q, stderr:\n%s", args, code, out, errOut)
			}
		}
	})
}
