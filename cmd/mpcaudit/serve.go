package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/mpcq/mpcq/internal/auditor"
	"github.com/mpcq/mpcq/internal/console"
)

type serveFlags struct {
	listen          string
	interval        time.Duration
	logDir, archive string
	noArchive       bool
	th              console.Thresholds
}

// serve runs the compliance console until SIGINT or SIGTERM.
func serve(p *auditor.Profile, f serveFlags, stderr io.Writer) int {
	if err := f.th.Validate(); err != nil {
		fmt.Fprintln(stderr, "mpcaudit: serve:", err)
		return 2
	}
	host, _, err := net.SplitHostPort(f.listen)
	if ip := net.ParseIP(host); err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
		fmt.Fprintf(stderr, "mpcaudit: serve: --listen %q: want a loopback address such as 127.0.0.1:8740 (the console has no login)\n", f.listen)
		return 2
	}
	log := zerolog.New(stderr).With().Timestamp().Str("component", "console").Logger()
	srv, err := console.New(console.Config{Interval: f.interval, Log: log, Backend: &console.ProfileBackend{
		Profile: p, LogDir: f.logDir, ArchivePath: f.archive, NoArchive: f.noArchive, Thresholds: f.th}})
	if err != nil {
		fmt.Fprintln(stderr, "mpcaudit: serve:", err)
		return 1
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		fmt.Fprintln(stderr, "mpcaudit: serve:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go srv.Run(ctx)
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	fmt.Fprintf(stderr, "mpcaudit: console on http://%s/\n", ln.Addr())
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(stderr, "mpcaudit: serve:", err)
		return 1
	}
	return 0
}
