// Command coordinatord is the consortium's coordinator. It holds no secret
// key material: it runs the key ceremony and record alignment across the
// parties and answers analysts' queries with results only they can decrypt.
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

	"github.com/mpcq/mpcq/coordinator"
	"github.com/mpcq/mpcq/internal/logx"
)

func main() {
	if cli.WantsVersion(os.Args[1:]) {
		fmt.Println(cli.Version("coordinatord"))
		return
	}
	fs := flag.NewFlagSet("coordinatord", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "path of the coordinator's JSON config file (required)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: coordinatord --config FILE
       coordinatord --version

Runs the coordinator. The config (JSON) names the consortium, the listen
address, the data directory, the parameter set, the TLS files and every
party's name and address. On start it waits for all parties, runs the key
ceremony and record alignment when needed, then serves analysts.
Unknown fields are refused.

Every field, its default and whether it is required: docs/config.md.
A complete example: deploy/coordinator.example.json.

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
		fmt.Fprintln(os.Stderr, "coordinatord:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	cfg, err := coordinator.LoadConfig(path)
	if err != nil {
		return err
	}
	log, err := logx.New(os.Stderr, cfg.LogLevel, "coordinatord")
	if err != nil {
		return err
	}
	// tessera logs through klog; its lines become JSON events too.
	logx.RouteKlog(log, time.Minute)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := coordinator.New(cfg, log)
	if err != nil {
		return err
	}
	// SIGUSR1 asks for compaction: the next epoch is a full re-alignment.
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-usr1:
				s.RequestCompaction()
			}
		}
	}()
	err = s.Serve(ctx)
	// The ledger's last lines (tessera's, through klog) come before ours.
	s.Close()
	log.Info().Msg("stopped")
	return err
}
