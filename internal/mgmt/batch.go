package mgmt

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"unicode/utf8"

	"github.com/wsgate/wsgate/internal/cluster"
)

// The batch post is a wsgate extension, not an AWS operation: AWS users broadcast by
// calling PostToConnection once per connection; here one signed request carries one
// payload for many connections (docs/gateway.md, "Broadcast in one request"). It is
// served at /{stage}/@wsgate/post-to-connections, a path API Gateway does not have, so
// that no AWS client reaches it by mistake.

// batchRequest is the body of a batch post.
type batchRequest struct {
	// ConnectionIDs are the connections to post to, at most cluster.MaxPostMany.
	ConnectionIDs []string `json:"connectionIds"`
	// Data is the payload as text; DataBase64 the payload as base64 (binary frames).
	// Exactly one is set.
	Data       *string `json:"data"`
	DataBase64 *string `json:"dataBase64"`
}

// batchResponse is the answer: how many posts were queued, and the rest with the error
// PostToConnection would have answered for each.
type batchResponse struct {
	Delivered int           `json:"delivered"`
	Failed    []batchFailed `json:"failed"`
}

type batchFailed struct {
	ConnectionID string `json:"connectionId"`
	ErrorType    string `json:"errorType"`
	StatusCode   int    `json:"statusCode"`
	Message      string `json:"message"`
}

// batchBodyLimit is the largest batch body for payloads up to maxPayload: the payload
// base64-encoded, and MaxPostMany ids of up to 128 bytes each, quoted.
func batchBodyLimit(maxPayload int) int {
	return 1024 + base64.StdEncoding.EncodedLen(maxPayload) + cluster.MaxPostMany*(128+3)
}

// postMany is the batch post: 200 with a batchResponse whenever the request itself is
// valid, whatever became of each connection.
func (s *server) postMany(w http.ResponseWriter, r *http.Request, _ string, body []byte) error {
	ids, data, err := parseBatch(body)
	if err != nil {
		return newError(CodeBadRequest, err.Error(), err)
	}
	if len(data) > s.maxPayload {
		return newError(CodePayloadTooLarge, msgPayloadTooLarge, fmt.Errorf("data of %d bytes exceeds %d", len(data), s.maxPayload))
	}
	errs := s.conns.PostMany(r.Context(), ids, data)
	resp := batchResponse{Delivered: len(ids), Failed: []batchFailed{}}
	for i, err := range errs {
		if err == nil {
			continue
		}
		e := asError(err)
		resp.Delivered--
		resp.Failed = append(resp.Failed, batchFailed{ConnectionID: ids[i], ErrorType: e.Code, StatusCode: status(e.Code), Message: e.Message})
		if e.Code == CodeInternal {
			s.log.Error("@connections batch post: one connection failed", "requestId", requestIDOf(w), "connectionId", ids[i], "err", e.Err)
		}
	}
	out, err := json.Marshal(resp)
	if err != nil {
		return fmt.Errorf("batch post: encode: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
	return nil
}

// parseBatch reads a batch body; the error is safe to show the client.
func parseBatch(body []byte) (ids []string, data []byte, err error) {
	var req batchRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, nil, errors.New("the body is not a batch post: want {\"connectionIds\": [...], \"data\": \"...\"} or \"dataBase64\"")
	}
	if dec.More() {
		return nil, nil, errors.New("the body holds more than one JSON value")
	}
	switch {
	case len(req.ConnectionIDs) == 0:
		return nil, nil, errors.New("connectionIds is empty")
	case len(req.ConnectionIDs) > cluster.MaxPostMany:
		return nil, nil, fmt.Errorf("connectionIds holds %d ids, at most %d", len(req.ConnectionIDs), cluster.MaxPostMany)
	case (req.Data == nil) == (req.DataBase64 == nil):
		return nil, nil, errors.New("set exactly one of data and dataBase64")
	}
	for _, id := range req.ConnectionIDs {
		if id == "" || len(id) > 128 || !utf8.ValidString(id) {
			return nil, nil, errors.New("a connection id is empty, longer than 128 bytes or not UTF-8")
		}
	}
	if req.Data != nil {
		return req.ConnectionIDs, []byte(*req.Data), nil
	}
	data, err = base64.StdEncoding.DecodeString(*req.DataBase64)
	if err != nil {
		return nil, nil, errors.New("dataBase64 is not standard base64")
	}
	return req.ConnectionIDs, data, nil
}
