package mgmt

import (
	"errors"
	"fmt"
	"log"
	"net/http"
	"time"
)

// Defaults of [Limits]: what the management listener allows one client when a field is 0.
const (
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 10 * time.Second
	DefaultWriteTimeout      = 15 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
	DefaultMaxHeaderBytes    = 32 << 10
)

// Limits bound what one client of the management listener can make it hold: a request
// trickled a byte at a time, a keep-alive connection left open. Every field's zero value
// means its Default.
type Limits struct {
	// ReadHeaderTimeout is how long the request line and headers may take; a client
	// slower than that is disconnected without an answer. 0: DefaultReadHeaderTimeout.
	ReadHeaderTimeout time.Duration
	// ReadTimeout is how long the whole request, body included, may take from its first
	// byte; a body still arriving then is refused. 0: DefaultReadTimeout.
	ReadTimeout time.Duration
	// WriteTimeout is how long, from the end of the headers, reading the body, running
	// the operation and writing the answer may take. It must be longer than
	// ReadTimeout. 0: DefaultWriteTimeout.
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that sends no next request for this
	// long. 0: DefaultIdleTimeout.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request line and headers (net/http adds 4 KiB of
	// slack); larger gets 431. 0: DefaultMaxHeaderBytes.
	MaxHeaderBytes int
}

// withDefaults is l with every zero field set to its default.
func (l Limits) withDefaults() Limits {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	set(&l.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	set(&l.ReadTimeout, DefaultReadTimeout)
	set(&l.WriteTimeout, DefaultWriteTimeout)
	set(&l.IdleTimeout, DefaultIdleTimeout)
	if l.MaxHeaderBytes == 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	return l
}

// Validate reports the first field of l that is out of range, by name, once the zero
// fields have taken their defaults.
func (l Limits) Validate() error {
	l = l.withDefaults()
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"ReadHeaderTimeout", l.ReadHeaderTimeout}, {"ReadTimeout", l.ReadTimeout},
		{"WriteTimeout", l.WriteTimeout}, {"IdleTimeout", l.IdleTimeout},
	} {
		if d.v < 0 {
			return fmt.Errorf("%s %v must not be negative", d.name, d.v)
		}
	}
	switch {
	case l.MaxHeaderBytes < 0:
		return fmt.Errorf("MaxHeaderBytes %d must not be negative", l.MaxHeaderBytes)
	case l.ReadHeaderTimeout > l.ReadTimeout:
		return fmt.Errorf("ReadHeaderTimeout %v must not be longer than ReadTimeout %v", l.ReadHeaderTimeout, l.ReadTimeout)
	case l.WriteTimeout <= l.ReadTimeout:
		return fmt.Errorf("WriteTimeout %v must be longer than ReadTimeout %v: the answer is written after the body is read", l.WriteTimeout, l.ReadTimeout)
	}
	return nil
}

// NewHTTPServer is the management listener's http.Server for h, bounded by l (zero
// fields take their defaults). errLog receives net/http's own errors; nil means the log
// package's. The error names the field of l that is out of range.
func NewHTTPServer(h http.Handler, l Limits, errLog *log.Logger) (*http.Server, error) {
	if h == nil {
		return nil, errors.New("mgmt: NewHTTPServer needs a handler")
	}
	if err := l.Validate(); err != nil {
		return nil, fmt.Errorf("mgmt: %w", err)
	}
	l = l.withDefaults()
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
		ErrorLog:          errLog,
	}, nil
}

// Bounded is h served on a listener whose http.Server cannot carry l's ReadTimeout and
// WriteTimeout: the WebSocket listener, where an upgraded connection must outlive any
// request timeout. It applies them to each request itself, from when h is called (the
// headers are in; that listener's own header timeout bounded them): the body must
// arrive within ReadTimeout, and reading it, the operation and the answer must be done
// within WriteTimeout, the answer included. net/http lifts the write deadline once the
// answer is written (and sets its own read deadlines for the idle wait and the next
// headers), so a later request on the same keep-alive connection (an upgrade, say) does
// not inherit them. ReadHeaderTimeout, IdleTimeout and MaxHeaderBytes stay that
// listener's own. The error names the field of l that is out of range.
func Bounded(h http.Handler, l Limits) (http.Handler, error) {
	if h == nil {
		return nil, errors.New("mgmt: Bounded needs a handler")
	}
	if err := l.Validate(); err != nil {
		return nil, fmt.Errorf("mgmt: %w", err)
	}
	l = l.withDefaults()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		rc := http.NewResponseController(w)
		// Both fail only for a writer that is not net/http's (a test recorder).
		_ = rc.SetReadDeadline(now.Add(l.ReadTimeout))
		_ = rc.SetWriteDeadline(now.Add(l.WriteTimeout))
		h.ServeHTTP(w, r)
	}), nil
}
