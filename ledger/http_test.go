package ledger_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mpcq/mpcq/ledger"
	"github.com/mpcq/mpcq/ledger/audit"
	"github.com/mpcq/mpcq/ledger/internal/testlog"
)

func TestHTTPHandler(t *testing.T) {
	d := testlog.New(t, 2)
	ctx := timeout(t, 30*time.Second)
	for i := range 4 {
		if _, _, err := d.Log.Append(ctx, testlog.Entry(t, i)); err != nil {
			t.Fatal(err)
		}
	}
	// A secret next to the log directory and a file inside tessera's state.
	if err := os.WriteFile(filepath.Join(filepath.Dir(d.Dir), "secret"), []byte("s3cret"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ledger.HTTPHandler(d.Dir))
	defer srv.Close()

	cpFile, err := os.ReadFile(filepath.Join(d.Dir, "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, path string
		code               int
		body               string // expected body prefix when 200
		cache              string
	}{
		{"checkpoint", http.MethodGet, "/checkpoint", 200, string(cpFile), "no-cache"},
		{"head checkpoint", http.MethodHead, "/checkpoint", 200, "", "no-cache"},
		{"partial tile", http.MethodGet, "/tile/0/000.p/4", 200, "", "no-cache"},
		{"partial bundle", http.MethodGet, "/tile/entries/000.p/4", 200, "", "no-cache"},
		{"post", http.MethodPost, "/checkpoint", 405, "", ""},
		{"put", http.MethodPut, "/tile/0/000.p/4", 405, "", ""},
		{"root listing", http.MethodGet, "/", 404, "", ""},
		{"tile dir listing", http.MethodGet, "/tile/", 404, "", ""},
		{"entries dir", http.MethodGet, "/tile/entries", 404, "", ""},
		{"partial dir", http.MethodGet, "/tile/0/000.p", 404, "", ""},
		{"state", http.MethodGet, "/.state/treeState", 404, "", ""},
		{"traversal", http.MethodGet, "/tile/0/../../../secret", 404, "", ""},
		{"encoded traversal", http.MethodGet, "/tile/%2e%2e/%2e%2e/secret", 404, "", ""},
		{"non-canonical index", http.MethodGet, "/tile/0/0", 404, "", ""},
		{"non-canonical group", http.MethodGet, "/tile/0/x000/000.p/4", 404, "", ""},
		{"zero width", http.MethodGet, "/tile/0/000.p/0", 404, "", ""},
		{"level too high", http.MethodGet, "/tile/64/000", 404, "", ""},
		{"missing full tile", http.MethodGet, "/tile/0/000", 404, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(ctx, tc.method, srv.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			// Send the path as written, without client-side cleaning.
			req.URL.Opaque = tc.path
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.code {
				t.Fatalf("%s %s = %d %q, want %d", tc.method, tc.path, resp.StatusCode, body, tc.code)
			}
			if strings.Contains(string(body), "s3cret") {
				t.Fatalf("leaked content: %q", body)
			}
			if tc.code == 200 && !strings.HasPrefix(string(body), tc.body) {
				t.Fatalf("body = %q, want prefix %q", body, tc.body)
			}
			if tc.cache != "" && resp.Header.Get("Cache-Control") != tc.cache {
				t.Fatalf("Cache-Control = %q, want %q", resp.Header.Get("Cache-Control"), tc.cache)
			}
			if tc.code == 405 && resp.Header.Get("Allow") != "GET, HEAD" {
				t.Fatalf("405 without Allow header")
			}
		})
	}

	// The served log audits over HTTP exactly like the directory.
	fetch, err := audit.HTTPFetcher(ctx, srv.URL+"/", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(ctx, fetch, d.Keys.Log.Verifier, d.Keys.Verifiers(), testlog.Origin)
	if err != nil || rep.Size != 4 {
		t.Fatalf("audit over HTTP = %+v, %v", rep, err)
	}
}
