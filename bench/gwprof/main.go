// Command gwprof runs the same gateway as `wsgate serve --config` (server.Serve with
// the config from config.Load) plus net/http/pprof on its own listener, so that
// bench/run can take a CPU or heap profile of the gateway under load. wsgate itself has
// no pprof endpoint; the figures in bench/results come from the wsgate binary, the
// profiles from this one.
//
//	gwprof --config F --pprof 127.0.0.1:6060
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof on http.DefaultServeMux
	"os"
	"os/signal"
	"syscall"

	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "gwprof:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	path := flag.String("config", "", "gateway configuration file")
	pprofAddr := flag.String("pprof", "127.0.0.1:0", "pprof listener")
	flag.Parse()
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *pprofAddr)
	if err != nil {
		return err
	}
	go func() { _ = http.Serve(ln, nil) }()
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return server.Serve(ctx, cfg, server.Deps{Getenv: os.Getenv, Logger: log}, func(a server.Addrs) {
		fmt.Printf("wsgate: serving %s (%s) on ws://%s/ ; @connections on http://%s/%s/@connections ; pprof on http://%s/debug/pprof/\n",
			cfg.API.Name, *path, a.WebSocket, a.Management, cfg.Stage.StageName, ln.Addr())
	})
}
