package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/mpcq/mpcq/internal/analyst"
	"github.com/mpcq/mpcq/internal/demo"
	"github.com/mpcq/mpcq/mpc"
	"github.com/mpcq/mpcq/pki"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// TestOperations is what an operator sees of a consortium: the gRPC
// health service of each daemon, NOT_SERVING before the ceremony and
// alignment and SERVING after, reachable with an auditor's or another
// party's certificate; server reflection; the Prometheus metrics moved by
// a query; a graceful stop on SIGTERM; and logs that are JSON only, one
// object a line, no key twice in an object and durations in seconds.
func TestOperations(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a key ceremony and an alignment with the secure parameters")
	}
	l, err := demo.Setup(t.TempDir(), demo.Options{People: testPeople, Seed: 7, ParamSet: mpc.DefaultSetName, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	cl := newCluster(t, l)
	if err := cl.StartAll(); err != nil {
		t.Fatal(err)
	}
	auditorCert := l.AuditorDir()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	// The coordinator's health, watched from its start: NOT_SERVING
	// first (the ceremony and alignment take seconds with the secure
	// parameters), then SERVING once ready.
	coordHealth := healthpb.NewHealthClient(dialAs(t, l, auditorCert, l.CoordinatorAddr, pki.ExpectRole(pki.RoleCoordinator)))
	seen := watchHealth(ctx, t, coordHealth)
	if len(seen) < 2 || seen[0] != healthpb.HealthCheckResponse_NOT_SERVING || seen[len(seen)-1] != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("coordinator health from start: %v, want NOT_SERVING … SERVING", seen)
	}
	waitReady(t, l)

	p, client, closeFn, err := l.Analyst()
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	s := demo.Samples()[1]
	if _, err := p.Query(ctx, client, analyst.Request{SQL: s.SQL}, nil); err != nil {
		t.Fatal(err)
	}

	t.Run("health", func(t *testing.T) {
		for _, name := range l.Parties {
			other := l.Parties[0]
			if other == name {
				other = l.Parties[1]
			}
			for who, cert := range map[string]string{"auditor": auditorCert, "party " + other: l.Path("parties", other)} {
				h := healthpb.NewHealthClient(dialAs(t, l, cert, l.PartyAddrs[name], pki.ExpectMember(pki.RoleParty, name)))
				for _, svc := range []string{"", pb.Party_ServiceDesc.ServiceName} {
					r, err := h.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
					if err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
						t.Errorf("party %s, service %q, as %s: %v %v", name, svc, who, r, err)
					}
				}
			}
			// The business service still admits only the coordinator.
			conn := dialAs(t, l, auditorCert, l.PartyAddrs[name], pki.ExpectMember(pki.RoleParty, name))
			if _, err := pb.NewPartyClient(conn).Status(ctx, &pb.PartyStatusRequest{}); err == nil {
				t.Errorf("an auditor called party %s's Status", name)
			}
		}
		r, err := coordHealth.Check(ctx, &healthpb.HealthCheckRequest{Service: pb.Coordinator_ServiceDesc.ServiceName})
		if err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("coordinator: %v %v", r, err)
		}
		// health_listen: the health service alone, without TLS, as
		// Kubernetes' gRPC probes call it.
		for name, addr := range l.HealthAddrs {
			conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			r, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
			if err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("%s health_listen: %v %v", name, r, err)
			}
			if _, err := pb.NewPartyClient(conn).Status(ctx, &pb.PartyStatusRequest{}); status.Code(err) != codes.Unimplemented {
				t.Errorf("%s health_listen serves more than health: %v", name, err)
			}
			conn.Close()
		}
	})

	t.Run("reflection", func(t *testing.T) {
		conn := dialAs(t, l, auditorCert, l.CoordinatorAddr, pki.ExpectRole(pki.RoleCoordinator))
		st, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
			t.Fatal(err)
		}
		r, err := st.Recv()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range r.GetListServicesResponse().GetService() {
			names = append(names, s.Name)
		}
		if !strings.Contains(strings.Join(names, " "), pb.Coordinator_ServiceDesc.ServiceName) {
			t.Errorf("reflection lists %v", names)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		coord := scrape(t, l.MetricsAddrs["coordinator"])
		for _, want := range []string{
			`mpcq_coordinator_queries_total{outcome="answered",reason=""} 1`,
			`mpcq_coordinator_query_phase_seconds_count{phase="chain"} 1`,
			`mpcq_coordinator_query_phase_seconds_count{phase="commit"} 1`,
			`mpcq_coordinator_query_phase_seconds_count{phase="decrypt"} 1`,
			`mpcq_coordinator_ledger_append_seconds_count{outcome="ok"}`,
		} {
			if !strings.Contains(coord, want) {
				t.Errorf("coordinator metrics lack %q", want)
			}
		}
		if !regexp.MustCompile(`mpcq_coordinator_party_sent_bytes_total\{party="\w+"\} [1-9]`).MatchString(coord) {
			t.Error("coordinator metrics count no bytes sent by a party")
		}
		var encrypted float64
		for _, name := range l.Parties {
			m := scrape(t, l.MetricsAddrs[name])
			if !strings.Contains(m, `mpcq_party_decrypt_shares_total{outcome="sent"} 1`) {
				t.Errorf("party %s: no decryption share counted", name)
			}
			if v := metricValue(m, "mpcq_party_align_blinded_elements_total"); v <= 0 {
				t.Errorf("party %s: %v elements blinded", name, v)
			}
			hits, misses := metricValue(m, "mpcq_party_encryption_pool_hits_total"), metricValue(m, "mpcq_party_encryption_pool_misses_total")
			if hits < 0 || misses < 0 {
				t.Errorf("party %s: no encryption pool hit or miss counter", name)
			}
			encrypted += hits + misses
		}
		if encrypted <= 0 {
			t.Error("no party counted the first step's blocks as pool hits or misses")
		}
	})

	// A graceful stop, then every line of every log.
	cl.Stop()
	t.Run("logs", func(t *testing.T) {
		files, err := filepath.Glob(l.Path("logs", "*.log"))
		if err != nil || len(files) != len(l.Parties)+1 {
			t.Fatalf("logs %v: %v", files, err)
		}
		for _, f := range files {
			checkJSONLog(t, f)
		}
	})
}

// watchHealth watches a daemon's health from as early as it answers
// until it reports SERVING; it returns every status seen.
func watchHealth(ctx context.Context, t *testing.T, h healthpb.HealthClient) []healthpb.HealthCheckResponse_ServingStatus {
	t.Helper()
	var seen []healthpb.HealthCheckResponse_ServingStatus
	for ctx.Err() == nil {
		w, err := h.Watch(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		for {
			r, err := w.Recv()
			if err != nil {
				break // not listening yet, or restarting: watch again
			}
			seen = append(seen, r.Status)
			if r.Status == healthpb.HealthCheckResponse_SERVING {
				return seen
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("health never SERVING (saw %v): %v", seen, ctx.Err())
	return nil
}

func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %s %v", addr, resp.Status, err)
	}
	return string(b)
}

// metricValue is the value of an unlabelled metric in a scrape, or -1.
func metricValue(scrape, name string) float64 {
	for _, line := range strings.Split(scrape, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// checkJSONLog reads a daemon's log: every line is one JSON object with
// no key twice in any object, durations are in seconds (no "elapsed" key,
// which zerolog's Dur writes in milliseconds), and the last line is the
// daemon's "stopped" (it stopped gracefully on SIGTERM).
func checkJSONLog(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	n, last := 0, ""
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if err := checkObject(json.NewDecoder(bytes.NewReader(line)), true); err != nil {
			t.Errorf("%s:%d: %v: %s", filepath.Base(path), n, err, line)
			continue
		}
		var m map[string]any
		_ = json.Unmarshal(line, &m)
		for _, k := range []string{"elapsed", "retry_in"} {
			if _, ok := m[k]; ok {
				t.Errorf("%s:%d: duration %q not in seconds: %s", filepath.Base(path), n, k, line)
			}
		}
		last, _ = m["message"].(string)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n == 0 || last != "stopped" {
		t.Errorf("%s: %d lines, last message %q, want \"stopped\"", filepath.Base(path), n, last)
	}
}

// checkObject reads one JSON value from dec (an object when top) and
// fails on a key that appears twice in one object, or on anything after
// the top value.
func checkObject(dec *json.Decoder, top bool) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		keys := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return err
			}
			k := kt.(string)
			if keys[k] {
				return fmt.Errorf("key %q twice in one object", k)
			}
			keys[k] = true
			if err := checkObject(dec, false); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // '}'
			return err
		}
	case json.Delim('['):
		for dec.More() {
			if err := checkObject(dec, false); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // ']'
			return err
		}
	default:
		if top {
			return fmt.Errorf("not a JSON object")
		}
		return nil
	}
	if top {
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return fmt.Errorf("more than one JSON value on the line")
		}
	}
	return nil
}
