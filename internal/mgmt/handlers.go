package mgmt

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// opFunc is one operation on the connection id, given the request body that was
// authenticated. It writes the success response or returns an error for [server.handle].
type opFunc func(w http.ResponseWriter, r *http.Request, id string, body []byte) error

// handle adapts an operation: it checks the stage and every part of the signature that
// can be checked before the body is read (sigv4.go: checkHeaders), verifies the signature
// before the body too when the client sent X-Amz-Content-Sha256, reads the body (at most
// MaxPayload bytes), checks it against the signature, runs op and maps any error once, in
// writeError, to a status, X-Amzn-ErrorType and a {"message"} body. A request refused
// before its body was read is answered at once and its connection closed, so that a
// client trickling a body it was never going to be allowed to send holds nothing.
// Failures are logged without the Authorization header, the signature or the payload.
func (s *server) handle(op opFunc) http.Handler { return s.handleUpTo(s.maxPayload, op) }

// handleUpTo is handle for an operation whose body may be up to maxBody bytes.
func (s *server) handleUpTo(maxBody int, op opFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		bodyRead, err := s.serve(w, r, id, maxBody, op)
		if err == nil {
			return
		}
		e := asError(err)
		var code int
		if bodyRead || r.ContentLength == 0 {
			code = writeError(w, e)
		} else {
			code = refuseUnread(w, e)
		}
		level := slog.LevelInfo
		switch {
		case code >= 500:
			level = slog.LevelError
		case e.Code == CodeGone || e.Code == CodeLimitExceeded:
			// Routine for a backend (stale ids, slow readers), and as frequent as its
			// traffic: debug, so that they cannot flood the log.
			level = slog.LevelDebug
		}
		s.log.LogAttrs(r.Context(), level, "@connections request failed",
			slog.String("requestId", requestIDOf(w)),
			slog.String("method", r.Method),
			slog.String("connectionId", id),
			slog.Int("status", code),
			slog.String("errorType", e.Code),
			slog.Bool("bodyRead", bodyRead),
			slog.Any("err", e.Err))
	})
}

// refuseUnread writes e for a request whose body was not read, then drops the
// connection. Connection: close stops net/http from reading (up to 256 KiB of) the body
// to reuse the connection before it sends the answer; the past read deadline stops it
// from doing so after. It returns the status.
func refuseUnread(w http.ResponseWriter, e *Error) int {
	w.Header().Set("Connection", "close")
	code := writeError(w, e)
	rc := http.NewResponseController(w)
	_ = rc.Flush()                          // not supported by some test recorders: then nothing waits anyway
	_ = rc.SetReadDeadline(time.Unix(1, 0)) // likewise
	return code
}

// serve runs one request; bodyRead reports whether its body was read (when serve fails,
// whether the connection may be reused).
func (s *server) serve(w http.ResponseWriter, r *http.Request, id string, maxBody int, op opFunc) (bodyRead bool, err error) {
	if stage := r.PathValue("stage"); stage != "" && stage != s.stage {
		return false, newError(CodeForbidden, msgForbidden, fmt.Errorf("unknown stage %q", stage))
	}
	sr, err := s.checkHeaders(r)
	if err != nil {
		return false, err
	}
	if sr != nil && sr.claimed != "" {
		// The client stated the payload hash: the signature can be verified now.
		if err := sr.verify(r, sr.claimed); err != nil {
			return false, err
		}
	}
	if r.ContentLength > int64(maxBody) {
		return false, newError(CodePayloadTooLarge, msgPayloadTooLarge,
			fmt.Errorf("content-length %d exceeds %d", r.ContentLength, maxBody))
	}
	body, payloadHash, err := s.readBody(r, maxBody)
	if err != nil {
		return false, err // not all of it was read: the connection is not reused
	}
	if sr != nil {
		if err := sr.checkBody(r, payloadHash); err != nil {
			return true, err
		}
	}
	return true, op(w, r, id, body)
}

// readBody reads the whole body, at most maxBody bytes, hashing it as it goes; the
// listener's read deadline (Limits.ReadTimeout) bounds how long that may take. It
// returns the body and its SHA-256 in lowercase hex.
func (s *server) readBody(r *http.Request, maxBody int) ([]byte, string, error) {
	h := sha256.New()
	var body []byte
	if r.Body != nil { // nil only outside a server
		var err error
		body, err = io.ReadAll(io.TeeReader(io.LimitReader(r.Body, int64(maxBody)+1), h))
		if err != nil {
			// A read deadline that passed, a client that went away, broken chunking.
			return nil, "", newError(CodeBadRequest, msgBadBody, fmt.Errorf("read body: %w", err))
		}
	}
	if len(body) > maxBody {
		return nil, "", newError(CodePayloadTooLarge, msgPayloadTooLarge,
			fmt.Errorf("body exceeds %d bytes", maxBody))
	}
	return body, hex.EncodeToString(h.Sum(nil)), nil
}

// post is PostToConnection: the body, as raw bytes, becomes one message. 200, no body.
func (s *server) post(w http.ResponseWriter, r *http.Request, id string, body []byte) error {
	if err := s.conns.Post(r.Context(), id, body); err != nil {
		return fmt.Errorf("post to %s: %w", id, err)
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// timeFormat is RFC 3339 in UTC with milliseconds, as AWS writes connectedAt.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// connection is the GetConnection response body.
type connection struct {
	ConnectedAt  string   `json:"connectedAt"`
	Identity     identity `json:"identity"`
	LastActiveAt string   `json:"lastActiveAt"`
}

type identity struct {
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent"`
}

// get is GetConnection: 200 with the connection's times and identity.
func (s *server) get(w http.ResponseWriter, r *http.Request, id string, _ []byte) error {
	info, err := s.conns.Get(r.Context(), id)
	if err != nil {
		return fmt.Errorf("get %s: %w", id, err)
	}
	body, err := json.Marshal(connection{
		ConnectedAt:  info.ConnectedAt.UTC().Format(timeFormat),
		Identity:     identity{SourceIP: info.SourceIP, UserAgent: info.UserAgent},
		LastActiveAt: info.LastActiveAt.UTC().Format(timeFormat),
	})
	if err != nil {
		return fmt.Errorf("get %s: encode: %w", id, err)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
	return nil
}

// delete is DeleteConnection: 204.
func (s *server) delete(w http.ResponseWriter, r *http.Request, id string, _ []byte) error {
	if err := s.conns.Delete(r.Context(), id); err != nil {
		return fmt.Errorf("delete %s: %w", id, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// noMethod answers a method the path does not have, as API Gateway does.
func (s *server) noMethod(_ http.ResponseWriter, r *http.Request, id string, _ []byte) error {
	route := strings.TrimPrefix(r.URL.Path, "/")
	if stage := r.PathValue("stage"); stage != "" {
		route = strings.TrimPrefix(route, stage+"/")
	}
	return newError(CodeForbidden,
		fmt.Sprintf("No method found matching route %s for http method %s.", route, r.Method),
		fmt.Errorf("method %s not served", r.Method))
}

// notFound answers every path outside the API, without reading any body.
func (s *server) notFound(w http.ResponseWriter, r *http.Request) {
	if e := newError(CodeForbidden, msgForbidden, nil); r.ContentLength == 0 {
		writeError(w, e)
	} else {
		refuseUnread(w, e)
	}
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "@connections request failed",
		slog.String("requestId", requestIDOf(w)), slog.String("method", r.Method), slog.Int("status", http.StatusForbidden),
		slog.String("errorType", CodeForbidden), slog.String("err", "no such route"))
}
