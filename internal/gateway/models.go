package gateway

// Request validation: a route's RequestModels, selected by its ModelSelectionExpression,
// checked before the integration is called (API Gateway's "Bad request body").

import (
	"encoding/json"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/integration"
)

// statusBadRequestBody is the message of the gateway response to a body its route's
// model rejects.
const statusBadRequestBody = "Bad request body"

// Models is a route's compiled request validation.
type Models struct {
	// Selection is the compiled ModelSelectionExpression.
	Selection integration.Selection
	// Schemas maps a model selection key to its model's name and compiled schema.
	Schemas map[string]Model
}

// Model is one compiled model.
type Model struct {
	Name   string
	Schema *jsonschema.Schema
}

// model returns the model of a message: the selection key's, else $default's.
func (m *Models) model(doc any, isJSON bool) (Model, bool) {
	if s, ok := m.Schemas[m.Selection.Eval(doc, isJSON)]; ok {
		return s, true
	}
	s, ok := m.Schemas[config.RouteDefault]
	return s, ok
}

// validBody reports whether a message may go on to rt's integration. When it may not,
// the client is sent {"message": "Bad request body", "connectionId", "messageId"} and
// the connection stays open. doc and isJSON are the body as route selection decoded
// it; decoded is false when route selection did not read the body. The cost is bounded
// by Limits.MaxMessageBytes (the body) and MaxModelSchemaBytes (the schema); schemas
// are compiled once, by Build, and load nothing.
func (c *Conn) validBody(rt *Route, body []byte, binary bool, doc any, isJSON, decoded bool) bool {
	if rt.Models == nil {
		return true
	}
	if !decoded && !binary {
		doc, isJSON = integration.DecodeBody(body)
	}
	m, ok := rt.Models.model(doc, isJSON)
	if ok && isJSON && !binary && m.Schema.Validate(doc) == nil {
		return true
	}
	// The validation error is not logged: it can quote the client's values.
	messageID := requestID()
	c.g.log.Debug("message: bad request body", "messageId", messageID, "connectionId", c.id, "routeKey", rt.Key, "model", m.Name, "modelFound", ok, "json", isJSON)
	b, _ := json.Marshal(badRequestBody{statusBadRequestBody, c.id, messageID})
	if err := c.Send(b); err != nil {
		c.g.log.Info("bad request body frame dropped", "messageId", messageID, "connectionId", c.id, "error", err.Error())
	}
	return false
}

// badRequestBody is API Gateway's gateway response to a body its model rejects: unlike
// the status frames (sendStatusFrame), it names the message by messageId.
type badRequestBody struct {
	Message      string `json:"message"`
	ConnectionID string `json:"connectionId"`
	MessageID    string `json:"messageId"`
}
