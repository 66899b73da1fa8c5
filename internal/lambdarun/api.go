package lambdarun

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// The Runtime API (version 2018-06-01) a process talks to, one per process (proc.go):
//
//	GET  /2018-06-01/runtime/invocation/next           200, the event; blocks until there is one
//	POST /2018-06-01/runtime/invocation/{id}/response  202; 413 over 6 MB; 400 unknown id; 403 already answered
//	POST /2018-06-01/runtime/invocation/{id}/error     202; 400 unknown id; 403 already answered
//	POST /2018-06-01/runtime/init/error                202; 403 after init
//
// A next asked for while the process is being stopped gets 500 (Lambda's "container
// error": the runtime should exit).

type apiOp int

const (
	opUnknown apiOp = iota
	opNext
	opResponse
	opError
	opInitError
)

const apiPrefix = "/2018-06-01/runtime/"

// parseAPIPath tells which Runtime API operation method and path are, and the
// invocation id of a response or error. An id is what the path holds between
// "invocation/" and the last segment; it is compared with known ids, never trusted.
func parseAPIPath(method, path string) (op apiOp, id string) {
	rest, ok := strings.CutPrefix(path, apiPrefix)
	if !ok {
		return opUnknown, ""
	}
	switch {
	case rest == "invocation/next":
		if method == http.MethodGet {
			return opNext, ""
		}
	case rest == "init/error":
		if method == http.MethodPost {
			return opInitError, ""
		}
	case method == http.MethodPost && strings.HasPrefix(rest, "invocation/"):
		rest = strings.TrimPrefix(rest, "invocation/")
		i := strings.IndexByte(rest, '/')
		if i <= 0 || strings.Contains(rest[i+1:], "/") {
			return opUnknown, ""
		}
		switch rest[i+1:] {
		case "response":
			return opResponse, rest[:i]
		case "error":
			return opError, rest[:i]
		}
	}
	return opUnknown, ""
}

func (p *proc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, id := parseAPIPath(r.Method, r.URL.Path)
	switch op {
	case opNext:
		p.next(w, r)
	case opResponse, opError:
		p.answer(w, r, op, id)
	case opInitError:
		p.initError(w, r)
	default:
		apiError(w, http.StatusNotFound, "InvalidRequest", "no such Runtime API operation")
	}
}

func (p *proc) next(w http.ResponseWriter, r *http.Request) {
	p.readyOnce.Do(func() { close(p.ready) })
	select {
	case inv := <-p.work:
		p.mu.Lock()
		p.cur = inv
		p.mu.Unlock()
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", inv.arn)
		h.Set("Lambda-Runtime-Trace-Id", inv.trace)
		if cc := decodeClientContext(inv.clientContext); cc != "" {
			h.Set("Lambda-Runtime-Client-Context", cc)
		}
		h.Set("Content-Length", strconv.Itoa(len(inv.payload)))
		_, _ = w.Write(inv.payload)
	case <-r.Context().Done():
	case <-p.stopping:
		apiError(w, http.StatusInternalServerError, "Runtime.Stopping", "the execution environment is shutting down")
	case <-p.dead:
	}
}

// answer takes a response or an error for invocation id.
func (p *proc) answer(w http.ResponseWriter, r *http.Request, op apiOp, id string) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxResponseBytes+1))
	if err != nil {
		apiError(w, http.StatusBadRequest, "InvalidRequest", "cannot read the body")
		return
	}
	p.mu.Lock()
	inv := p.cur
	if inv == nil || inv.id != id {
		last := p.lastID
		p.mu.Unlock()
		if id != "" && id == last {
			apiError(w, http.StatusForbidden, "InvalidStateTransition", "the invocation has already been answered or has ended")
			return
		}
		apiError(w, http.StatusBadRequest, "InvalidRequestID", "no such invocation")
		return
	}
	p.cur, p.lastID = nil, id
	p.mu.Unlock()
	switch {
	case op == opResponse && len(body) > maxResponseBytes:
		inv.done <- errorResult("Function.ResponseSizeTooLarge", "Response payload size exceeded maximum allowed payload size (%d bytes).", maxResponseBytes)
		apiError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "Exceeded maximum allowed payload size ("+strconv.Itoa(maxResponseBytes)+" bytes).")
		return
	case op == opResponse:
		inv.done <- result{payload: body}
	default:
		inv.done <- result{payload: errorBody(body, r.Header.Get("Lambda-Runtime-Function-Error-Type")), failed: true}
	}
	accepted(w)
}

func (p *proc) initError(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxResponseBytes+1))
	if err != nil {
		apiError(w, http.StatusBadRequest, "InvalidRequest", "cannot read the body")
		return
	}
	select {
	case <-p.ready:
		apiError(w, http.StatusForbidden, "InvalidStateTransition", "init is over")
		return
	default:
	}
	select {
	case p.initErr <- errorBody(body, r.Header.Get("Lambda-Runtime-Function-Error-Type")):
	default: // a second init error: the first stands
	}
	accepted(w)
}

// errorBody is the payload an error's client gets: the runtime's JSON object as it
// posted it ({errorMessage, errorType, stackTrace}), or, when the body is not one, an
// object whose errorMessage is the body and errorType the error-type header.
func errorBody(body []byte, errorType string) []byte {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '{' && json.Valid(trimmed) {
		return trimmed
	}
	if errorType == "" {
		errorType = "Unhandled"
	}
	return errorJSON(errorType, string(body))
}

// errorJSON is {"errorType": t, "errorMessage": msg}.
func errorJSON(errorType, msg string) []byte {
	b, _ := json.Marshal(struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}{errorType, msg})
	return b
}

// decodeClientContext: Invoke's ClientContext is base64 JSON; the Runtime API carries
// the JSON itself.
func decodeClientContext(s string) string {
	if s == "" {
		return ""
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && json.Valid(b) {
		return string(b)
	}
	return ""
}

func accepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
}

func apiError(w http.ResponseWriter, status int, errorType, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}{msg, errorType})
	_, _ = w.Write(b)
}
