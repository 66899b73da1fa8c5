package integration

import (
	"context"
	"encoding/json"
	"net/http"
)

// Mock answers without a backend, as a MOCK integration: the status code is the
// statusCode of the rendered request template (200 without one), and the body is the
// rendered ResponseTemplate (empty without one).
type Mock struct {
	templates *templates
	response  *Template
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
	return resp, nil
}
