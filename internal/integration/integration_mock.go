package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// Mock answers without a backend, as a MOCK integration: the status code is the
// statusCode of the rendered request template (200 without one), and the body is the
// rendered ResponseTemplate (empty without one, rendered on the request: its $input is
// the message), then transformed by the integration response the status code selects
// (its templates' $input is that body).
type Mock struct {
	templates *templates
	response  *Template
	responses *responses
}

var _ Integration = (*Mock)(nil)

// Invoke renders the mock's answer.
func (m *Mock) Invoke(_ context.Context, req *Request) (*Response, error) {
	resp := &Response{StatusCode: http.StatusOK, Header: http.Header{}}
	out, ok, err := m.templates.render(req)
	if err != nil {
		return nil, err
	}
	if ok {
		var sel struct {
			StatusCode int `json:"statusCode"`
		}
		if json.Unmarshal(out, &sel) == nil && sel.StatusCode >= 100 && sel.StatusCode <= 599 {
			resp.StatusCode = sel.StatusCode
		}
	}
	if m.response != nil {
		if resp.Body, err = m.response.Render(templateData(req)); err != nil {
			return nil, err
		}
	}
	if err := m.responses.apply(req, resp, strconv.Itoa(resp.StatusCode), true); err != nil {
		return nil, fmt.Errorf("status %d: %w", resp.StatusCode, err)
	}
	return resp, nil
}
