package mgmt

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
)

// opFunc is one operation on the connection id, given the request body that was
// authenticated. It writes the success response or returns an error for [server.handle].
type opFunc func(w http.ResponseWriter, r *http.Request, id string, body []byte) error

// handle adapts an operation: it checks the stage, reads the body (at most MaxPayload+1
// bytes), authenticates the request, runs op and maps any error once, in writeError, to
// a status, X-Amzn-ErrorType and a {"message"} body. Failures are logged without the
// Authorization header, the signature or the payload.
func (s *server) handle(op opFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		err := s.serve(w, r, id, op)
		if err == nil {
			return
		}
		e := asError(err)
		code := writeError(w, e)
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
			slog.String("method", r.Method),
			slog.String("connectionId", id),
			slog.Int("status", code),
			slog.String("errorType", e.Code),
			slog.Any("err", e.Err))
	})
}

func (s *server) serve(w http.ResponseWriter, r *http.Request, id string, op opFunc) error {
	if stage := r.PathValue("stage"); stage != "" && stage != s.stage {
		return newError(CodeForbidden, msgForbidden, fmt.Errorf("unknown stage %q", stage))
	}
	if r.Header.Get("Authorization") == "" && !s.allowUnsigned {
		// Refuse before reading a body that no one signed.
		return newError(CodeMissingAuthenticationToken, msgMissingAuth, errors.New("no Authorization header"))
	}
	body, err := s.readBody(r)
	if err != nil {
		return err
	}
	if err := s.authenticate(r, body); err != nil {
		return err
	}
	return op(w, r, id, body)
}

// readBody reads the whole body, refusing one longer than MaxPayload.
func (s *server) readBody(r *http.Request) ([]byte, error) {
	if r.ContentLength > int64(s.maxPayload) {
		return nil, newError(CodePayloadTooLarge, msgPayloadTooLarge,
			fmt.Errorf("content-length %d exceeds %d", r.ContentLength, s.maxPayload))
	}
	if r.Body == nil { // only outside a server
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(s.maxPayload)+1))
	if err != nil {
		return nil, newError(CodeInternal, msgInternal, fmt.Errorf("read body: %w", err))
	}
	if len(body) > s.maxPayload {
		return nil, newError(CodePayloadTooLarge, msgPayloadTooLarge,
			fmt.Errorf("body exceeds %d bytes", s.maxPayload))
	}
	return body, nil
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

// notFound answers every path outside the API.
func (s *server) notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, newError(CodeForbidden, msgForbidden, nil))
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "@connections request failed",
		slog.String("method", r.Method), slog.Int("status", http.StatusForbidden),
		slog.String("errorType", CodeForbidden), slog.String("err", "no such route"))
}
