package analyst

import (
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mpcq/mpcq/dp"
	"github.com/mpcq/mpcq/ledger/request"
	"github.com/mpcq/mpcq/pki"
	"github.com/mpcq/mpcq/plan"
	"github.com/mpcq/mpcq/schema"
	"github.com/mpcq/mpcq/warrant"
)

// testCA is a test consortium CA with an authorizer and an analyst.
type testCA struct {
	now                 time.Time
	ca                  *pki.CA
	judgeCert, judgeKey []byte
	aliceCert, aliceKey []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	now := time.Now().Truncate(time.Second)
	ca, err := pki.NewCA("mpcq test CA", now, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c := &testCA{now: now, ca: ca}
	if c.judgeCert, c.judgeKey, err = ca.Issue(pki.RoleAuthorizer, "judge-a", nil, now, 12*time.Hour); err != nil {
		t.Fatal(err)
	}
	if c.aliceCert, c.aliceKey, err = ca.Issue(pki.RoleAnalyst, "alice", nil, now, 12*time.Hour); err != nil {
		t.Fatal(err)
	}
	return c
}

// warrantFile signs a warrant for alice over bank and returns its file.
func (c *testCA) warrantFile(t *testing.T, exact bool) []byte {
	t.Helper()
	w, err := warrant.New("CASE-1", []string{"mpcq://analyst/alice"}, warrant.Scope{Tables: []string{"bank"}, Exact: exact},
		c.now.Add(-time.Minute), c.now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	key, err := pki.PrivateKey(c.judgeKey)
	if err != nil {
		t.Fatal(err)
	}
	s, err := warrant.Sign(w, key, c.judgeCert)
	if err != nil {
		t.Fatal(err)
	}
	return s.Marshal()
}

func hashOf(t *testing.T, file []byte) [32]byte {
	t.Helper()
	s, err := warrant.ParseSigned(file)
	if err != nil {
		t.Fatal(err)
	}
	return warrant.Hash(s)
}

// profileWith returns a profile (without RLWE keys) whose directory holds
// the given warrant file (if any) as warrant.pem, named by its config.
func profileWith(t *testing.T, cfg ProfileConfig, file []byte) *Profile {
	t.Helper()
	dir := t.TempDir()
	if file != nil {
		if err := os.WriteFile(filepath.Join(dir, "warrant.pem"), file, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg.Warrant = "warrant.pem"
	}
	if err := cfg.checkConfig(); err != nil {
		t.Fatal(err)
	}
	return &Profile{Dir: dir, Config: cfg}
}

func intp(v int) *int { return &v }

func TestResolvePrivacy(t *testing.T) {
	c := newTestCA(t)
	exactW, noisyW := c.warrantFile(t, true), c.warrantFile(t, false)
	const parties = 3
	for _, tc := range []struct {
		name    string
		cfg     ProfileConfig
		file    []byte // the profile's warrant
		req     Request
		eps     uint64
		k       int
		warrant []byte // attached
	}{
		{name: "no warrant, no default: ε 1, k N−1", eps: 1000, k: 2},
		{name: "no warrant: default_epsilon", cfg: ProfileConfig{DefaultEpsilon: "0.25"}, eps: 250, k: 2},
		{name: "warrant allowing exact: exact", cfg: ProfileConfig{DefaultEpsilon: "0.25"}, file: exactW, eps: 0, k: 0, warrant: exactW},
		{name: "warrant without exact: default_epsilon", cfg: ProfileConfig{DefaultEpsilon: "2.5"}, file: noisyW, eps: 2500, k: 2, warrant: noisyW},
		{name: "warrant without exact, no default: ε 1", file: noisyW, eps: 1000, k: 2, warrant: noisyW},
		{name: "explicit ε wins over exact warrant", file: exactW, req: Request{Epsilon: "0.5"}, eps: 500, k: 2, warrant: exactW},
		{name: "explicit ε wins over default", cfg: ProfileConfig{DefaultEpsilon: "3"}, req: Request{Epsilon: "0.125"}, eps: 125, k: 2},
		{name: "explicit exact", cfg: ProfileConfig{DefaultEpsilon: "3"}, file: noisyW, req: Request{Epsilon: "0"}, eps: 0, k: 0, warrant: noisyW},
		{name: "explicit collusion", req: Request{Collusion: intp(1)}, eps: 1000, k: 1},
		{name: "explicit collusion 0", cfg: ProfileConfig{Collusion: intp(2)}, req: Request{Collusion: intp(0)}, eps: 1000, k: 0},
		{name: "profile collusion", cfg: ProfileConfig{Collusion: intp(1)}, eps: 1000, k: 1},
		{name: "explicit warrant overrides the profile's", file: noisyW, req: Request{Warrant: exactW}, eps: 0, k: 0, warrant: exactW},
		{name: "no-warrant drops the profile's", file: exactW, req: Request{NoWarrant: true}, eps: 1000, k: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := profileWith(t, tc.cfg, tc.file)
			got, err := p.ResolvePrivacy(tc.req, parties)
			if err != nil {
				t.Fatal(err)
			}
			if got.EpsilonMilli != tc.eps || got.Collusion != tc.k {
				t.Errorf("ε %d k %d, want ε %d k %d", got.EpsilonMilli, got.Collusion, tc.eps, tc.k)
			}
			if string(got.Warrant) != string(tc.warrant) {
				t.Errorf("attached warrant %q, want %q", got.Warrant, tc.warrant)
			}
			var wantHash [32]byte
			if tc.warrant != nil {
				wantHash = hashOf(t, tc.warrant)
			}
			if got.WarrantHash != wantHash {
				t.Errorf("warrant hash %x, want %x", got.WarrantHash, wantHash)
			}
			sp := got.Signed()
			if sp.EpsilonMilli != tc.eps || int(sp.Collusion) != tc.k || sp.WarrantHash != wantHash {
				t.Errorf("signed privacy %+v", sp)
			}
		})
	}
}

func TestResolvePrivacyRefused(t *testing.T) {
	c := newTestCA(t)
	exactW := c.warrantFile(t, true)
	for _, tc := range []struct {
		name    string
		cfg     ProfileConfig
		file    []byte
		req     Request
		parties int
		want    error
		msg     string
	}{
		{name: "collusion above N−1", req: Request{Collusion: intp(3)}, parties: 3, want: ErrPrivacy,
			msg: "collusion tolerance 3 (from --collusion) needs 4 parties to add noise, the consortium has 3: use at most 2"},
		{name: "profile collusion above N−1", cfg: ProfileConfig{Collusion: intp(5)}, parties: 2, want: ErrPrivacy,
			msg: "the consortium has 2: use at most 1"},
		{name: "negative collusion", req: Request{Collusion: intp(-1)}, parties: 3, want: ErrPrivacy, msg: "negative"},
		{name: "collusion on exact", req: Request{Epsilon: "0", Collusion: intp(1)}, parties: 3, want: ErrPrivacy, msg: "exact"},
		{name: "bad ε", req: Request{Epsilon: "1e3"}, parties: 3, want: warrant.ErrMalformed, msg: "--epsilon"},
		{name: "no parties", parties: 0, want: ErrPrivacy, msg: "no parties"},
		{name: "bad warrant", req: Request{Warrant: []byte("not a warrant")}, parties: 3, want: warrant.ErrMalformed, msg: "the warrant given"},
		{name: "warrant and no-warrant", req: Request{Warrant: exactW, NoWarrant: true}, parties: 3, want: ErrPrivacy, msg: "--no-warrant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := profileWith(t, tc.cfg, tc.file)
			_, err := p.ResolvePrivacy(tc.req, tc.parties)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want an error wrapping %v saying %q", err, tc.want, tc.msg)
			}
		})
	}
	// The profile's warrant file missing.
	p := &Profile{Dir: t.TempDir(), Config: ProfileConfig{Warrant: "warrant.pem"}}
	if _, err := p.ResolvePrivacy(Request{}, 3); !errors.Is(err, ErrProfile) {
		t.Errorf("missing warrant file: got %v, want ErrProfile", err)
	}
}

func TestProfileConfigCheck(t *testing.T) {
	for _, cfg := range []ProfileConfig{
		{DefaultEpsilon: "-1"},
		{DefaultEpsilon: "0.0001"},
		{Collusion: intp(-1)},
		{Warrant: "../warrant.pem"},
		{Warrant: "/etc/warrant.pem"},
	} {
		if err := cfg.checkConfig(); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
	var cfg ProfileConfig
	if err := json.Unmarshal([]byte(`{"coordinator":"h:1","param_set":"x","warrant":"warrant.pem","default_epsilon":"0.5","collusion":1}`), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Warrant != "warrant.pem" || cfg.DefaultEpsilon != "0.5" || cfg.Collusion == nil || *cfg.Collusion != 1 || cfg.checkConfig() != nil {
		t.Errorf("profile.json read as %+v", cfg)
	}
}

// TestSignPrivacy checks that the signed request commits the query's ε, k
// and warrant hash, and verifies with the analyst's certificate.
func TestSignPrivacy(t *testing.T) {
	c := newTestCA(t)
	file := c.warrantFile(t, false)
	dir := t.TempDir()
	for name, b := range map[string][]byte{CertFile: c.aliceCert, KeyFile: c.aliceKey, "warrant.pem": file} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := &Profile{Dir: dir, Config: ProfileConfig{Warrant: "warrant.pem", DefaultEpsilon: "0.75"}, pkRaw: []byte("analyst public key")}
	priv, err := p.ResolvePrivacy(Request{Collusion: intp(1)}, 4)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := p.Sign("SELECT COUNT(*) FROM bank", "purpose", "basis", priv.Signed())
	if err != nil {
		t.Fatal(err)
	}
	r, err := request.Decode(signed.Request)
	if err != nil {
		t.Fatal(err)
	}
	want := request.Privacy{EpsilonMilli: 750, Collusion: 1, WarrantHash: hashOf(t, file)}
	if r.Privacy != want {
		t.Errorf("signed privacy %+v, want %+v", r.Privacy, want)
	}
	if r.KeyHash != request.KeyHash(p.pkRaw) || r.Canonical != "SELECT COUNT(*) FROM bank" {
		t.Errorf("signed request %+v", r)
	}
	// The exact, warrant-less SignRequest signs the zero Privacy.
	exact, err := SignRequest("SELECT COUNT(*) FROM bank", "p", "l", p.pkRaw, c.aliceCert, c.aliceKey, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if r, err := request.Decode(exact.Request); err != nil || !r.Privacy.IsZero() {
		t.Errorf("SignRequest: %+v, %v", r.Privacy, err)
	}
}

func TestFinishNoisyDecoding(t *testing.T) {
	cs := schema.Consortium{Tables: []schema.Table{{Name: "bank", Key: "person_id", Columns: []schema.Column{
		{Name: "balance", Kind: schema.KindInt, Min: 0, Max: 1000},
	}}}}
	pl, err := plan.Parse("SELECT COUNT(*), SUM(bank.balance) FROM bank", cs)
	if err != nil {
		t.Fatal(err)
	}
	const T = 65537
	count := plan.Sum{Kind: plan.SumCount}
	bal := plan.Sum{Kind: plan.SumValue, Table: "bank", Column: "balance"}
	// The count came out at −4 (T − 4): noise larger than the count.
	rows, _, ivs, err := finishNoisy(pl, cs, map[plan.Sum][]uint64{count: {T - 4}, bal: {1234}}, T, 1000, 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"-4", "1234"}; !reflect.DeepEqual(rows[0], want) {
		t.Errorf("rows %q, want %q", rows[0], want)
	}
	// ε = 1 over K = 2 sums: t = 2 for the count, 2000 for the sum, and
	// k+1 = 3 noisy parties.
	for j, tw := range []*big.Rat{big.NewRat(2, 1), big.NewRat(2000, 1)} {
		if h := dp.HalfWidth95(tw, 3).String(); ivs[0][j].HalfWidth != h {
			t.Errorf("cell %d: half-width %s, want %s", j, ivs[0][j].HalfWidth, h)
		}
	}
	res := &Result{Columns: []string{"count", "sum"}, Rows: rows, EpsilonMilli: 1000, Collusion: 2, Intervals: ivs}
	if got := res.Cell(0, 0); got != "-4 ±"+ivs[0][0].HalfWidth {
		t.Errorf("cell %q", got)
	}
	if l := res.Legend(); !strings.Contains(l, "ε=1 (k=2: the guarantee holds against the analyst colluding with up to 2 parties); ± is a 95% interval") ||
		strings.Contains(l, "union bound") {
		t.Errorf("legend %q", l)
	}
}

func TestResultOutput(t *testing.T) {
	exact := &Result{QueryID: "q1", Columns: []string{"district", "n", "avg"}, Groups: 1,
		Rows: [][]string{{"D01", "12", "3.500000"}, {"D02", "0", plan.NullText}}}
	b, err := json.Marshal(exact)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"query_id":"q1","columns":["district","n","avg"],"rows":[["D01",12,3.500000],["D02",0,null]],"ledger_index":0}`; string(b) != want {
		t.Errorf("exact JSON\n%s\nwant\n%s", b, want)
	}
	if exact.Legend() != "" || exact.Cell(0, 2) != "3.500000" {
		t.Errorf("exact result rendered with noise: %q %q", exact.Legend(), exact.Cell(0, 2))
	}

	noisy := &Result{QueryID: "q2", Columns: []string{"district", "n", "avg"}, Groups: 1, EpsilonMilli: 500, Collusion: 1,
		Rows: [][]string{{"D01", "12", "3.500000"}, {"D02", "-1", plan.NullText}},
		Intervals: [][]plan.Interval{
			{{}, {Low: "9", High: "15", HalfWidth: "3"}, {Low: "1.000000", High: "7.250000"}},
			{{}, {Low: "-4", High: "2", HalfWidth: "3"}, {}},
		}}
	if b, err = json.Marshal(noisy); err != nil {
		t.Fatal(err)
	}
	if want := `{"query_id":"q2","columns":["district","n","avg"],"rows":[["D01",12,3.500000],["D02",-1,null]],` +
		`"epsilon":"0.5","collusion":1,"intervals":[[null,[9,15],[1.000000,7.250000]],[null,[-4,2],null]],"ledger_index":0}`; string(b) != want {
		t.Errorf("noisy JSON\n%s\nwant\n%s", b, want)
	}
	for _, tc := range []struct {
		i, j int
		want string
	}{{0, 0, "D01"}, {0, 1, "12 ±3"}, {0, 2, "3.500000 [1.000000, 7.250000]"}, {1, 1, "-1 ±3"}, {1, 2, plan.NullText}} {
		if got := noisy.Cell(tc.i, tc.j); got != tc.want {
			t.Errorf("cell %d,%d: %q, want %q", tc.i, tc.j, got, tc.want)
		}
	}
	l := noisy.Legend()
	for _, want := range []string{"noisy result: ε=0.5 (k=1: the guarantee holds against the analyst colluding with up to 1 party); ± is a 95% interval",
		"at least 90% (AVG) or 85% (VARIANCE, STDDEV) by the union bound"} {
		if !strings.Contains(l, want) {
			t.Errorf("legend %q lacks %q", l, want)
		}
	}
}
