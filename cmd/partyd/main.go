// Command partyd is an institution's party daemon. It serves one table to
// the consortium's coordinator over mutual TLS; no record or person
// identifier ever leaves it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mpcq/mpcq/internal/cli"

	"github.com/mpcq/mpcq/internal/logx"
	"github.com/mpcq/mpcq/party"
)

func main() {
	if cli.WantsVersion(os.Args[1:]) {
		fmt.Println(cli.Version("partyd"))
		return
	}
	fs := flag.NewFlagSet("partyd", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "path of the party's JSON config file (required)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: partyd --config FILE
       partyd --version

Serves one institution's table to the consortium. The config (JSON) names
the party, its listen address, data directory (keys and alignment, 0700),
the CSV and schema of its table, its TLS files (CA, certificate, key) and
the certificates of the other parties, its ledger witness key and the
ledger's public key. Unknown fields are refused.

Every field, its default and whether it is required: docs/config.md.
A complete example: deploy/party.example.json.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	if *cfgPath == "" {
		fs.Usage()
		os.Exit(2)
	}
	if err := run(*cfgPath); err != nil {
		fmt.Fprintln(os.Stderr, "partyd:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	cfg, err := party.LoadConfig(path)
	if err != nil {
		return err
	}
	log, err := logx.New(os.Stderr, cfg.LogLevel, "partyd")
	if err != nil {
		return err
	}
	log = log.With().Str("party", cfg.Name).Logger()
	// The witness and ledger libraries log through klog; JSON here too.
	logx.RouteKlog(log, time.Minute)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// SIGHUP reloads the table (the CSV, or a database's keys): changed
	// values serve the next query, added and removed people start an
	// incremental epoch; a bad file is logged and the old rows kept.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	s, err := party.New(cfg, log)
	if err != nil {
		return err
	}
	defer s.Close()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				rctx, cancel := context.WithTimeout(ctx, cfg.QueryTimeout())
				_ = s.Reload(rctx) // logged by Reload; the daemon keeps serving
				cancel()
			}
		}
	}()
	err = s.Serve(ctx)
	log.Info().Msg("stopped")
	return err
}
