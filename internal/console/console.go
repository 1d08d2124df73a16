// Package console is mpcaudit serve: a web console, on the auditor's own
// machine, over the verified ledger. It verifies the whole log before it
// shows anything and again every few seconds as the log grows; a failure
// is shown in red on every page and is sticky until restart. Pages: a
// timeline of queries with filters, a page per query (opened SQL and
// purpose, ledger entries with their inclusion proofs, a receipt to
// download), per analyst and per case charts and pattern flags, the
// parties' policy history, and the ceremonies and epochs.
//
// It is not an access-control layer: it serves whoever can reach its
// listener, which should be loopback. Every asset is embedded; every text
// from the ledger or the archive goes through html/template's escaping.
package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/mpcq/mpcq/internal/auditor"
	"github.com/mpcq/mpcq/ledger/audit"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Config configures a Server.
type Config struct {
	Backend Backend
	// Interval is the time between verifications; zero means 5 seconds.
	Interval time.Duration
	// Log receives verification outcomes (no ledger text).
	Log zerolog.Logger
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.Backend == nil {
		return errors.New("console: no backend")
	}
	if c.Interval < 0 {
		return fmt.Errorf("console: negative interval %s", c.Interval)
	}
	return nil
}

// Failure is a verification failure, as the header shows it.
type Failure struct {
	// File is the log resource at fault ("" when not one file).
	File string
	// Entry is the entry index at fault, when HasEntry.
	Entry    uint64
	HasEntry bool
	Message  string
	At       time.Time
}

// Status is what the console knows: the last verified snapshot (nil
// before the first success) and the first failure (nil if none).
type Status struct {
	Snap    *Snapshot
	Failure *Failure
	// Checked says a verification has completed (successfully or not).
	Checked bool
}

// Server serves the console.
type Server struct {
	cfg   Config
	pages map[string]*template.Template
	mu    sync.Mutex
	st    Status
}

// New returns a Server; call Run to verify, Handler to serve.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Interval == 0 {
		cfg.Interval = 5 * time.Second
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	return &Server{cfg: cfg, pages: pages}, nil
}

// Status returns the current status.
func (s *Server) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

// Check runs one verification and records its outcome. After a failure
// it does nothing: a failure is sticky until restart.
func (s *Server) Check(ctx context.Context) {
	if s.Status().Failure != nil {
		return
	}
	snap, err := s.cfg.Backend.Verify(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.Checked = true
	if err != nil {
		s.st.Failure = failureOf(err, time.Now().UTC())
		s.cfg.Log.Error().Str("file", s.st.Failure.File).Bool("has_entry", s.st.Failure.HasEntry).Uint64("entry", s.st.Failure.Entry).
			Msg("ledger does not verify")
		return
	}
	if s.st.Snap == nil || s.st.Snap.Size != snap.Size {
		s.cfg.Log.Info().Uint64("size", snap.Size).Msg("ledger verified")
	}
	s.st.Snap = snap
}

// Run verifies at once, then every Interval until ctx is done.
func (s *Server) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		s.Check(cctx)
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// failureOf locates err in the log when it is an *audit.Error.
func failureOf(err error, at time.Time) *Failure {
	f := &Failure{Message: auditor.Escape(err.Error()), At: at}
	var ae *audit.Error
	if errors.As(err, &ae) {
		f.File, f.Entry, f.HasEntry = auditor.Escape(ae.Path), ae.Index, ae.HasIndex
		f.Message = auditor.Escape(ae.Err.Error())
	}
	return f
}

// Handler returns the console's routes. Requests whose Host is not a
// loopback name or address are refused (against DNS rebinding).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /{$}", s.timeline)
	mux.HandleFunc("GET /query/{id}", s.query)
	mux.HandleFunc("GET /query/{id}/receipt", s.receipt)
	mux.HandleFunc("GET /analyst", s.analyst)
	mux.HandleFunc("GET /case", s.caseRef)
	mux.HandleFunc("GET /policies", s.policies)
	mux.HandleFunc("GET /ceremonies", s.ceremonies)
	mux.HandleFunc("GET /state.json", s.stateJSON)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopbackHost(r.Host) {
			http.Error(w, "console: requests must name a loopback host", http.StatusMisdirectedRequest)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		mux.ServeHTTP(w, r)
	})
}

// loopbackHost reports whether a Host header names localhost or a
// loopback address.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
