package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// MaxResponseBytes bounds an integration response read into memory.
const MaxResponseBytes = 1 << 20

// HTTP calls an HTTP backend: HTTP_PROXY passes the message body as is; HTTP renders the
// selected request template (or passes the body through when none matches). Request
// parameters map $context, stage variables, handshake headers/query and body values
// onto headers, query and path. Handshake headers reach the backend only through
// request parameters, so cookies are never forwarded by accident.
type HTTP struct {
	client    *http.Client
	uri       string
	method    string
	params    []parameter
	templates *templates
	proxy     bool
	timeout   time.Duration
}

var _ Integration = (*HTTP)(nil)

// Invoke calls the backend once.
func (h *HTTP) Invoke(ctx context.Context, req *Request) (*Response, error) {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	u, err := url.Parse(h.uri)
	if err != nil {
		return nil, fmt.Errorf("integration uri: %w", err)
	}
	header := make(http.Header, 4)
	applyParameters(h.params, req, u, header)
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
		return nil, err
	}
	for k, v := range header {
		hr.Header[k] = v
	}
	if hr.Header.Get("Content-Type") == "" && len(body) > 0 {
		hr.Header.Set("Content-Type", "application/json")
	}
	resp, err := h.client.Do(hr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading the integration response: %w", err)
	}
	if len(b) > MaxResponseBytes {
		return nil, fmt.Errorf("integration response over %d bytes", MaxResponseBytes)
	}
	return &Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: b}, nil
}
