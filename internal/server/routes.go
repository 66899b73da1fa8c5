package server

import (
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// routes is the management listener's whole surface: the operations endpoints and,
// when the @connections API is on (connections not nil), everything else.
//
//	GET /metrics  Prometheus metrics of reg
//	GET /healthz  200 while the process runs
//	GET /readyz   200 while ready is true (listening, not shutting down), else 503
//	/             the @connections API (internal/mgmt/routes.go)
//
// The WebSocket listener's surface is the gateway's ServeHTTP: upgrades, and the same
// @connections API for requests that are not upgrades (SigV4 required there; built by
// connectionsAPI in server.go), every other request 426.
func routes(reg *prometheus.Registry, ready *atomic.Bool, connections http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	if connections != nil {
		mux.Handle("/", connections)
	}
	return mux
}
