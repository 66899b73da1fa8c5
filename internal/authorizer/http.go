package authorizer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/wsgate/wsgate/authevent"
)

// HTTP is a REQUEST authorizer served over HTTP (ours: AWS has no such authorizer). It
// is safe for concurrent use.
type HTTP struct {
	client  *http.Client
	url     string
	timeout time.Duration
}

var _ Authorizer = (*HTTP)(nil)

// NewHTTP returns the authorizer that POSTs the event to url with client (nil:
// http.DefaultClient), for at most timeout per call (timeout <= 0: DefaultTimeout).
func NewHTTP(client *http.Client, url string, timeout time.Duration) *HTTP {
	if client == nil {
		client = http.DefaultClient
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &HTTP{client: client, url: url, timeout: timeout}
}

// Authorize POSTs the event as JSON. 200 with an authorizer answer (the JSON a Lambda
// authorizer returns) is decided like a Lambda's answer: Allow, or Forbidden when the
// policy does not allow the method ARN. 401 is Unauthorized and 403 Forbidden. Any other
// status, an answer over 8 KB or invalid, a transport error or a timeout is Failed.
func (h *HTTP) Authorize(ctx context.Context, ev *authevent.Event) Result {
	if ev == nil {
		return failed("no authorizer event")
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return failed("encode authorizer event: " + err.Error())
	}
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return failed("http authorizer request: " + requestErrorReason(err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	res, err := h.client.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return failed(fmt.Sprintf("http authorizer timed out after %v", h.timeout))
		}
		return failed("http authorizer request failed: " + requestErrorReason(err))
	}
	defer res.Body.Close()
	switch res.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized:
		return Result{Outcome: Unauthorized, Reason: "http authorizer answered 401"}
	case http.StatusForbidden:
		return Result{Outcome: Forbidden, Reason: "http authorizer answered 403"}
	default:
		return failed(fmt.Sprintf("http authorizer answered %d", res.StatusCode))
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, authevent.MaxResultBytes+1))
	switch {
	case err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return failed(fmt.Sprintf("http authorizer timed out after %v", h.timeout))
	case err != nil:
		return failed("http authorizer answer unreadable: " + requestErrorReason(err))
	case len(b) > authevent.MaxResultBytes:
		return failed(fmt.Sprintf("http authorizer result exceeds %d bytes", authevent.MaxResultBytes))
	}
	resp, err := authevent.ParseResponse(b)
	if err != nil {
		return failed("http authorizer result invalid: " + truncate(err.Error(), 200))
	}
	return fromResponse(resp, ev.MethodArn)
}

// requestErrorReason describes a transport error without its URL, which may carry a
// credential in its query string: every *url.Error in the chain is replaced by its cause.
func requestErrorReason(err error) string {
	for {
		ue, ok := errors.AsType[*url.Error](err)
		if !ok {
			return truncate(err.Error(), 200)
		}
		err = ue.Err
	}
}
