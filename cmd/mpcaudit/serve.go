package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/mpcq/mpcq/internal/auditor"
	"github.com/mpcq/mpcq/internal/console"
)

type serveFlags struct {
	listen   string
	interval time.Duration
	src      source
	th       console.Thresholds
}

func serveCmd(a *app) *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the compliance web console on a loopback address",
		Long: `A web console on --listen (loopback only: the console has no login). It
verifies the log before it shows anything and again every --interval;
timeline with filters, query pages with receipts, per analyst and per
case charts and pattern flags, policies, ceremonies and epochs. A
failure shows in red on every page until restart. Runs until SIGINT or
SIGTERM.`,
		Example: `  mpcaudit --profile DIR serve --listen 127.0.0.1:8740 --interval 30s`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			p, err := a.profile()
			if err != nil {
				return err
			}
			return serve(cmd.Context(), p, f, a.stderr)
		},
	}
	addSource(cmd, &f.src)
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", "127.0.0.1:8740", "serve the console on `ADDR`, a loopback address")
	fl.DurationVar(&f.interval, "interval", 5*time.Second, "time between verifications")
	fl.IntVar(&f.th.BurstCount, "burst", console.DefaultThresholds.BurstCount, "flag this many queries by one analyst...")
	fl.DurationVar(&f.th.BurstWindow, "burst-window", console.DefaultThresholds.BurstWindow, "...within this time")
	return cmd
}

// check refuses flags the console cannot run with (usage errors).
func (f serveFlags) check() error {
	if err := f.th.Validate(); err != nil {
		return usageError{Err: err}
	}
	if f.interval < 0 {
		return usagef("--interval %s: want a positive duration such as 5s (0 means 5s)", f.interval)
	}
	host, _, err := net.SplitHostPort(f.listen)
	if ip := net.ParseIP(host); err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
		return usagef("--listen %q: want a loopback address such as 127.0.0.1:8740 (the console has no login)", f.listen)
	}
	return nil
}

// serve runs the compliance console until ctx ends (SIGINT or SIGTERM).
func serve(ctx context.Context, p *auditor.Profile, f serveFlags, stderr io.Writer) error {
	log := zerolog.New(stderr).With().Timestamp().Str("component", "console").Logger()
	srv, err := console.New(console.Config{Interval: f.interval, Log: log, Backend: &console.ProfileBackend{
		Profile: p, LogDir: f.src.logDir, ArchivePath: f.src.archive, NoArchive: f.src.noArchive, Thresholds: f.th}})
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
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
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
