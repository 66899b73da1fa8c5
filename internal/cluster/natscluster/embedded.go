package natscluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// EmbeddedOptions configures a NATS server run inside a gateway node, for clusters
// shipped as a single binary: each node embeds a server and the servers form a NATS
// cluster through routes.
type EmbeddedOptions struct {
	// Listen is the client address, host:port; port 0 picks a free port (read it back
	// with the server's ClientURL). Default "127.0.0.1:4222".
	Listen string
	// ClusterName names the NATS cluster; all peers use the same. Default "wsgate".
	ClusterName string
	// ClusterListen is where peers' routes connect, host:port (port 0 picks a free
	// port). Default: none, a single server that accepts no routes.
	ClusterListen string
	// Routes are the peers, nats-route://host:port (a node may list itself). Default
	// none.
	Routes []string
	// StoreDir is reserved for JetStream, which wsgate does not use. Ignored.
	StoreDir string
	// MaxPayload is the largest NATS message, in bytes. Default NATS's 1 MiB; raise it
	// (on every peer) when Server.Limits.MaxMessageBytes is near or above that.
	MaxPayload int32
	// Logger receives the server's notices, warnings and errors. Default: discard.
	Logger *slog.Logger
}

// readyTimeout bounds how long StartEmbedded waits for the listeners.
const readyTimeout = 10 * time.Second

// StartEmbedded starts a NATS server and returns it once it accepts connections. The
// caller stops it with Shutdown (then WaitForShutdown). Connect to it in process with
// nats.InProcessServer(s), or over TCP with s.ClientURL().
func StartEmbedded(o EmbeddedOptions) (*server.Server, error) {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:4222"
	}
	if o.ClusterName == "" {
		o.ClusterName = "wsgate"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	host, port, err := hostPort(o.Listen)
	if err != nil {
		return nil, fmt.Errorf("cluster: embedded NATS Listen: %w", err)
	}
	opts := &server.Options{
		Host:       host,
		Port:       port,
		NoSigs:     true,
		MaxPayload: o.MaxPayload,
	}
	if o.ClusterListen != "" {
		ch, cp, err := hostPort(o.ClusterListen)
		if err != nil {
			return nil, fmt.Errorf("cluster: embedded NATS ClusterListen: %w", err)
		}
		opts.Cluster = server.ClusterOpts{Name: o.ClusterName, Host: ch, Port: cp}
	} else if len(o.Routes) > 0 {
		return nil, errors.New("cluster: embedded NATS Routes need ClusterListen")
	}
	for _, r := range o.Routes {
		u, err := url.Parse(r)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("cluster: embedded NATS route %q is not nats-route://host:port", r)
		}
		opts.Routes = append(opts.Routes, u)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("cluster: embedded NATS: %w", err)
	}
	logs := &serverLog{log: o.Logger.With("component", "nats-server")}
	s.SetLoggerV2(logs, false, false, false)
	go s.Start()
	// ReadyForConnections keeps waiting after a listener failed; the failure reaches
	// the logger first, so check it between short waits.
	for deadline := time.Now().Add(readyTimeout); ; {
		if s.ReadyForConnections(25 * time.Millisecond) {
			return s, nil
		}
		err := logs.fatal()
		if err == nil && time.Now().Before(deadline) {
			continue
		}
		s.Shutdown()
		s.WaitForShutdown()
		if err != nil {
			return nil, fmt.Errorf("cluster: embedded NATS did not start: %w", err)
		}
		return nil, fmt.Errorf("cluster: embedded NATS not ready after %v", readyTimeout)
	}
}

// hostPort splits host:port; port 0 becomes NATS's "random port".
func hostPort(hp string) (string, int, error) {
	host, ps, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("%q: bad port", hp)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return host, port, nil
}

// serverLog is the NATS server's logger on slog. Fatalf does not exit: the server
// reports listener failures through it, and StartEmbedded returns them.
type serverLog struct {
	log *slog.Logger

	mu       sync.Mutex
	lastFail error
}

var _ server.Logger = (*serverLog)(nil)

func (l *serverLog) logf(level slog.Level, format string, v []any) {
	if l.log.Enabled(context.Background(), level) {
		l.log.Log(context.Background(), level, fmt.Sprintf(format, v...))
	}
}

func (l *serverLog) Noticef(format string, v ...any) { l.logf(slog.LevelInfo, format, v) }
func (l *serverLog) Warnf(format string, v ...any)   { l.logf(slog.LevelWarn, format, v) }
func (l *serverLog) Errorf(format string, v ...any)  { l.logf(slog.LevelError, format, v) }
func (l *serverLog) Debugf(format string, v ...any)  { l.logf(slog.LevelDebug, format, v) }
func (l *serverLog) Tracef(format string, v ...any)  { l.logf(slog.LevelDebug-4, format, v) }

func (l *serverLog) Fatalf(format string, v ...any) {
	l.mu.Lock()
	l.lastFail = fmt.Errorf(format, v...)
	l.mu.Unlock()
	l.logf(slog.LevelError, format, v)
}

// fatal returns the last fatal error the server reported.
func (l *serverLog) fatal() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastFail
}
