package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// backend is the HTTP integration the bench config calls: /connect and /disconnect
// answer 200, anything else echoes the request body (the route's two-way response).
type backend struct {
	calls atomic.Int64
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.calls.Add(1)
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	switch r.URL.Path {
	case "/connect", "/disconnect":
		w.WriteHeader(http.StatusOK)
	default:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}
}

// startBackend serves the backend on addr until ctx ends.
func startBackend(ctx context.Context, addr string) (string, <-chan error, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: &backend{}, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute}
	// done reports once the server has shut down, not only stopped accepting: Serve
	// returns as soon as Shutdown starts.
	done := make(chan error, 1)
	served := make(chan error, 1)
	go func() {
		err := srv.Serve(ln)
		if err == http.ErrServerClosed {
			err = nil
		}
		served <- err
	}()
	go func() {
		select {
		case err := <-served:
			done <- err
			return
		case <-ctx.Done():
		}
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		err := srv.Shutdown(sctx)
		if serr := <-served; serr != nil {
			err = serr
		}
		done <- err
	}()
	return "http://" + ln.Addr().String(), done, nil
}

func backendCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("backend", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	url, done, err := startBackend(ctx, *listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wsload backend: listening on %s\n", url)
	return <-done
}
