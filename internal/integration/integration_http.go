package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// MaxResponseBytes bounds an integration response read into memory.
const MaxResponseBytes = 1 << 20

// HTTP calls an HTTP backend: HTTP_PROXY passes the message body as is; HTTP renders the
// selected request template (or passes the body through when none matches) and
// transforms the answer with the integration response its status code selects. Request
// parameters map $context, stage variables, handshake headers/query and body values
// onto headers, query and path. Handshake headers reach the backend only through
// request parameters, so cookies are never forwarded by accident.
//
// Its errors never hold the URL it called, which may carry a secret a request parameter
// put in its query: they name the integration URI's scheme, host and path as configured
// (see logURL).
type HTTP struct {
	client    *http.Client
	uri       *url.URL // placeholders not substituted
	logURL    string   // what errors show of uri
	method    string
	params    []parameter
	templates *templates
	responses *responses // HTTP only (responses.go)
	proxy     bool
	timeout   time.Duration
}

var _ Integration = (*HTTP)(nil)

// Invoke calls the backend once.
func (h *HTTP) Invoke(ctx context.Context, req *Request) (*Response, error) {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	u := *h.uri
	header := make(http.Header, 4)
	applyParameters(h.params, req, &u, header)
	body := req.Body
	if !h.proxy {
		if out, ok, err := h.templates.render(req); err != nil {
			return nil, fmt.Errorf("request template: %w", err)
		} else if ok {
			body = out
			if header.Get("Content-Type") == "" {
				header.Set("Content-Type", "application/json")
			}
		}
	}
	hr, err := http.NewRequestWithContext(ctx, h.method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, h.redact(err)
	}
	for k, v := range header {
		hr.Header[k] = v
	}
	if hr.Header.Get("Content-Type") == "" && len(body) > 0 {
		hr.Header.Set("Content-Type", "application/json")
	}
	resp, err := h.client.Do(hr)
	if err != nil {
		return nil, h.redact(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading the response of %s: %w", h.logURL, h.redact(err))
	}
	if len(b) > MaxResponseBytes {
		return nil, fmt.Errorf("integration response over %d bytes", MaxResponseBytes)
	}
	out := &Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: b}
	if !h.proxy {
		if err := h.responses.apply(req, out, strconv.Itoa(resp.StatusCode), true); err != nil {
			return nil, fmt.Errorf("status %d: %w", resp.StatusCode, err)
		}
	}
	return out, nil
}

// redact replaces the URL of a *url.Error in err (net/http's errors print the whole URL,
// query included) with h.logURL.
func (h *HTTP) redact(err error) error {
	ue, ok := errors.AsType[*url.Error](err)
	if !ok {
		return err
	}
	return &url.Error{Op: ue.Op, URL: h.logURL, Err: h.redact(ue.Err)}
}

// logURL is what an error may show of an integration URI: its scheme, host and path,
// without user information, query or fragment.
func logURL(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}
