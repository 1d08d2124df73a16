package console

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mpcq/mpcq/internal/auditor"
	"github.com/mpcq/mpcq/policy"
)

// pageNames are the templates/NAME.html pages, each rendered inside
// templates/layout.html.
var pageNames = []string{"timeline", "query", "who", "policies", "ceremonies"}

var funcs = template.FuncMap{
	"short": func(s string) string {
		if len(s) > 16 {
			return s[:16]
		}
		return s
	},
	"join":     func(ss []string) string { return strings.Join(ss, ", ") },
	"last":     func(size uint64) uint64 { return size - 1 },
	"when":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"hexs":     func(b []byte) string { return hex.EncodeToString(b) },
	"queryURL": func(id string) string { return "/query/" + url.PathEscape(id) },
	"receiptURL": func(id string) string {
		return "/query/" + url.PathEscape(id) + "/receipt"
	},
	"analystURL": func(a string) string { return "/analyst?" + url.Values{"id": {a}}.Encode() },
	"caseURL":    func(c string) string { return "/case?" + url.Values{"ref": {c}}.Encode() },
	"eq":         func(a, b string) bool { return a == b },
}

func parsePages() (map[string]*template.Template, error) {
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// page is what the layout renders.
type page struct {
	Title string
	St    Status
	Snap  *Snapshot
	Data  any
}

func (s *Server) render(w http.ResponseWriter, name, title string, code int, data func(*Snapshot) any) {
	st := s.Status()
	p := page{Title: title, St: st, Snap: st.Snap}
	if st.Snap != nil && data != nil {
		p.Data = data(st.Snap)
	}
	var buf bytes.Buffer
	if err := s.pages[name].Execute(&buf, p); err != nil {
		s.cfg.Log.Error().Err(err).Str("page", name).Msg("rendering")
		http.Error(w, "console: rendering failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if st.Failure != nil {
		w.Header().Set("X-Ledger-Verified", "no")
	}
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// timelineData is the timeline page.
type timelineData struct {
	Filter            auditor.RowFilter
	Since, Until, Err string
	// Text and Case are the search text and case, escaped for display.
	Text, Case      string
	Queries         []Query
	Total           int
	Analysts, Cases []string
	Statuses        []string
}

func (s *Server) timeline(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := auditor.RowFilter{Analyst: q.Get("analyst"), Case: q.Get("case"), Status: q.Get("status"), Text: q.Get("q")}
	var errs []string
	var err error
	if f.Since, err = auditor.ParseTime(q.Get("since")); err != nil {
		errs = append(errs, "since: "+auditor.Escape(err.Error()))
	}
	if f.Until, err = auditor.ParseTime(q.Get("until")); err != nil {
		errs = append(errs, "until: "+auditor.Escape(err.Error()))
	}
	if err := f.Validate(); err != nil {
		errs = append(errs, auditor.Escape(err.Error()))
	}
	code := http.StatusOK
	if len(errs) > 0 {
		code = http.StatusBadRequest
	}
	s.render(w, "timeline", "Queries", code, func(snap *Snapshot) any {
		d := timelineData{Filter: f, Since: auditor.Escape(q.Get("since")), Until: auditor.Escape(q.Get("until")), Text: auditor.Escape(f.Text), Case: auditor.Escape(f.Case), Err: strings.Join(errs, "; "),
			Total: len(snap.Queries), Analysts: snap.Analysts(), Cases: snap.Cases(), Statuses: auditor.Statuses}
		if len(errs) == 0 {
			d.Queries = snap.Filter(f)
			slices.Reverse(d.Queries) // newest first
		}
		return d
	})
}

// entryProof is a query's ledger entry with its inclusion proof.
type entryProof struct {
	EntryRef
	Proof []string
	Size  uint64
	Err   string
}

type queryData struct {
	Q       Query
	Entries []entryProof
	// Plan is the plan per institution (nil when it cannot be shown,
	// PlanErr then says why).
	Plan    *PlanView
	PlanErr string
}

func (s *Server) query(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	st := s.Status()
	if st.Snap != nil {
		if _, ok := st.Snap.Query(id); !ok {
			s.render(w, "query", "No such query", http.StatusNotFound, nil)
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	s.render(w, "query", "Query "+id, http.StatusOK, func(snap *Snapshot) any {
		q, _ := snap.Query(id)
		d := queryData{Q: q}
		if src, ok := s.cfg.Backend.(SchemaSource); ok && q.sql != "" {
			cs, err := src.Schema(ctx)
			if err == nil {
				d.Plan, err = planView(q.sql, q.PlanHash, cs, q.limits)
			}
			if err != nil {
				d.PlanErr = auditor.Escape(err.Error())
			}
		}
		for _, e := range q.Entries {
			ep := entryProof{EntryRef: e}
			if st.Failure == nil {
				hashes, size, err := s.cfg.Backend.Inclusion(ctx, e.Index)
				if err != nil {
					ep.Err = auditor.Escape(err.Error())
				}
				ep.Size = size
				for _, h := range hashes {
					ep.Proof = append(ep.Proof, hex.EncodeToString(h))
				}
			}
			d.Entries = append(d.Entries, ep)
		}
		return d
	})
}

func (s *Server) receipt(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	st := s.Status()
	if st.Failure != nil || st.Snap == nil {
		http.Error(w, "console: the ledger is not verified: no receipt", http.StatusServiceUnavailable)
		return
	}
	if _, ok := st.Snap.Query(id); !ok {
		http.Error(w, "console: no such query", http.StatusNotFound)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
	defer cancel()
	b, err := s.cfg.Backend.Receipt(ctx, id)
	if err != nil {
		s.cfg.Log.Error().Err(err).Msg("receipt")
		http.Error(w, "console: building the receipt failed: "+auditor.Escape(err.Error()), http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", safeName(id)+".receipt"))
	_, _ = w.Write(b)
}

// safeName keeps letters, digits, '.', '-' and '_' of a query ID for a
// file name.
func safeName(id string) string {
	b := []byte(id)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	if len(b) == 0 || b[0] == '.' {
		return "query"
	}
	return string(b)
}

// whoData is the page of an analyst or a case.
type whoData struct {
	Kind, Who string
	Queries   []Query
	Flags     []Flag
	Charts    []Chart
}

func (s *Server) analyst(w http.ResponseWriter, r *http.Request) {
	who := r.URL.Query().Get("id")
	s.render(w, "who", "Analyst "+auditor.Escape(who), http.StatusOK, func(snap *Snapshot) any {
		return whoPage(snap, "Analyst", who, auditor.RowFilter{Analyst: who}, snap.FlagsOf(who))
	})
}

func (s *Server) caseRef(w http.ResponseWriter, r *http.Request) {
	ref := r.URL.Query().Get("ref")
	s.render(w, "who", "Case "+auditor.Escape(ref), http.StatusOK, func(snap *Snapshot) any {
		d := whoPage(snap, "Case", ref, auditor.RowFilter{Case: ref}, nil)
		ids := map[string]bool{}
		for _, q := range d.Queries {
			ids[q.QueryID] = true
		}
		for _, f := range snap.Flags {
			for _, id := range f.Queries {
				if ids[id] {
					d.Flags = append(d.Flags, f)
					break
				}
			}
		}
		return d
	})
}

func whoPage(snap *Snapshot, kind, who string, f auditor.RowFilter, flags []Flag) whoData {
	d := whoData{Kind: kind, Who: auditor.Escape(who), Flags: flags}
	if who != "" {
		d.Queries = snap.Filter(f)
	}
	var count, spent []Sample
	for _, q := range d.Queries {
		count = append(count, Sample{At: q.At, Value: 1})
		if q.Status == "answered" && q.EpsilonMilli > 0 {
			spent = append(spent, Sample{At: q.At, Value: float64(q.EpsilonMilli)})
		}
	}
	d.Charts = []Chart{
		StepChart("Queries over time", count, func(v float64) string { return fmt.Sprintf("%.0f queries", v) }),
		StepChart("ε spent over time (answered noisy queries)", spent, func(v float64) string { return "ε " + policy.FormatEpsilon(uint64(v)) }),
	}
	slices.Reverse(d.Queries)
	return d
}

// partyPolicies is one party's policy history.
type partyPolicies struct {
	Party    string
	Versions []auditor.PolicyVersion
}

func (s *Server) policies(w http.ResponseWriter, r *http.Request) {
	s.render(w, "policies", "Policies", http.StatusOK, func(snap *Snapshot) any {
		var out []partyPolicies
		for _, v := range snap.Policies {
			i := slices.IndexFunc(out, func(p partyPolicies) bool { return p.Party == v.Party })
			if i < 0 {
				out = append(out, partyPolicies{Party: v.Party})
				i = len(out) - 1
			}
			out[i].Versions = append(out[i].Versions, v)
		}
		slices.SortFunc(out, func(a, b partyPolicies) int { return strings.Compare(a.Party, b.Party) })
		return out
	})
}

func (s *Server) ceremonies(w http.ResponseWriter, r *http.Request) {
	s.render(w, "ceremonies", "Ceremonies and epochs", http.StatusOK, func(snap *Snapshot) any { return snap.Others })
}

// stateJSON is the verification state for scripts and tests.
func (s *Server) stateJSON(w http.ResponseWriter, r *http.Request) {
	st := s.Status()
	out := struct {
		Checked  bool     `json:"checked"`
		Verified bool     `json:"verified"`
		Size     uint64   `json:"size"`
		Failure  *Failure `json:"failure,omitempty"`
	}{Checked: st.Checked, Verified: st.Snap != nil && st.Failure == nil, Failure: st.Failure}
	if st.Snap != nil {
		out.Size = st.Snap.Size
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}
