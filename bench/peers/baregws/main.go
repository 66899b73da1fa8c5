// Command baregws is the bare gws peer of the peers bench (bench/run peers): a
// WebSocket server on gws with no authorizer and no routes, and wsgate's push shape
// (POST /@connections/{id}). See package peer and docs/benchmarks.md.
//
//	baregws [-addr 127.0.0.1:0] [-jwt-secret-env NAME]
//
// With -jwt-secret-env, a WebSocket opens only with a JWT cookie signed (HS256) with the
// secret in that environment variable and bound to the csrf query parameter: the peer
// "bare gws + JWT" that bench/ab measures with BAREGWS=jwt.
//
// It prints one line, "baregws: pid P serving ws://ADDR/ ; push http://ADDR ; metrics
// http://ADDR/metrics", once it listens, and serves until SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/wsgate/wsgate/bench/peers/baregws/peer"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "baregws:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("baregws", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	secretEnv := fs.String("jwt-secret-env", "", "environment variable holding the HS256 secret of the JWT cookie check; empty: no check")
	if err := fs.Parse(args); err != nil {
		return err
	}
	s := peer.New()
	if *secretEnv != "" {
		secret := os.Getenv(*secretEnv)
		if secret == "" {
			return fmt.Errorf("-jwt-secret-env: %s is not set", *secretEnv)
		}
		s = peer.NewWithJWT([]byte(secret))
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	a := ln.Addr().String()
	fmt.Fprintf(stdout, "baregws: pid %d serving ws://%s/ ; push http://%s ; metrics http://%s/metrics\n", os.Getpid(), a, a, a)
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = hs.Shutdown(sctx)
	s.Close()
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
