package server

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"

	"github.com/wsgate/wsgate/internal/config"
)

// modelsConfig is chatConfig with request validation: echo selects its model by
// $request.body.action, $default validates every message against one model (a
// constant ModelSelectionExpression).
func modelsConfig(backendURL string) string {
	cfg := chatConfig(backendURL, `Models:
  echoMessage:
    ContentType: application/json
    Schema: '{"$schema":"http://json-schema.org/draft-04/schema#","type":"object","required":["action","text"],"properties":{"text":{"type":"string","maxLength":20}}}'
  anyObject:
    Schema: '{"type":"object","required":["action"]}'
`)
	cfg = strings.Replace(cfg,
		"  echo: {Target: integrations/echo, RouteResponseSelectionExpression: $default}",
		"  echo: {Target: integrations/echo, RouteResponseSelectionExpression: $default, ModelSelectionExpression: $request.body.action, RequestModels: {echo: echoMessage}}", 1)
	cfg = strings.Replace(cfg,
		"  $default: {Target: integrations/default}",
		`  $default: {Target: integrations/default, ModelSelectionExpression: \$default, RequestModels: {$default: anyObject}}`, 1)
	return cfg
}

// badRequestBody reads the next frame and checks that it is API Gateway's gateway
// response to a body its model rejects, for connection id.
func badRequestBody(t *testing.T, c *websocket.Conn, id string) {
	t.Helper()
	var got map[string]any
	if err := json.Unmarshal([]byte(read(t, c)), &got); err != nil {
		t.Fatalf("frame is not JSON: %v", err)
	}
	mid, _ := got["messageId"].(string)
	if mid == "" {
		t.Errorf("frame has no messageId: %v", got)
	}
	want := map[string]any{"message": "Bad request body", "connectionId": id, "messageId": mid}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("frame (-want +got):\n%s", diff)
	}
}

func TestRequestValidation(t *testing.T) {
	be := echoBackend(t)
	r := startGateway(t, modelsConfig(be.URL), Deps{})
	c := mustDial(t, r, loginAs(t, "alice", time.Now().Add(time.Hour)))
	defer c.CloseNow()

	write(t, c, `{"action":"echo","text":"hi"}`)
	first := mustJSON(t, read(t, c))
	id, _ := first["connectionId"].(string)
	if first["route"] != "echo" || id == "" {
		t.Fatalf("valid echo: %v", first)
	}

	for _, msg := range []string{
		`{"action":"echo","text":5}`, // text is not a string
		`{"action":"echo"}`,          // text is required
		`{"action":"echo","text":"` + strings.Repeat("x", 21) + `"}`, // maxLength
		`hello, not JSON`, // to $default, whose model wants an object
		`[1,2,3]`,         // JSON, but not an object
	} {
		write(t, c, msg)
		badRequestBody(t, c, id)
	}
	write(t, c, `{"action":"other","n":1}`) // $default's model: valid
	if got := be.next(t, "/default"); got.Body != `{"action":"other","n":1}` {
		t.Errorf("$default backend got %q", got.Body)
	}
	// The connection stayed open: a valid message is still routed and answered.
	write(t, c, `{"action":"echo","text":"again"}`)
	if got := mustJSON(t, read(t, c)); got["route"] != "echo" {
		t.Errorf("valid echo after rejections: %v", got)
	}

	if n := be.count("/echo"); n != 2 {
		t.Errorf("echo backend called %d times, want 2 (the valid messages only)", n)
	}
	if n := be.count("/default"); n != 1 {
		t.Errorf("$default backend called %d times, want 1", n)
	}
	logs := r.logs.String()
	if !strings.Contains(logs, "bad request body") {
		t.Error("no rejection was logged")
	}
	for _, v := range []string{strings.Repeat("x", 21), "hello, not JSON"} {
		if strings.Contains(logs, v) {
			t.Errorf("the logs quote a rejected body (%q)", v)
		}
	}
}

func TestRequestValidationConfigErrors(t *testing.T) {
	tests := []struct {
		name   string
		models string
		route  string
		want   string
	}{
		{"schema not JSON", `{m: {Schema: '{"type":'}}`, `RequestModels: {$default: m}, ModelSelectionExpression: \$default`, "Models.m.Schema: not JSON"},
		{"schema not draft 4", `{m: {Schema: '{"type":"nothing"}'}}`, `RequestModels: {$default: m}, ModelSelectionExpression: \$default`, "Models.m.Schema: not a valid draft 4 schema"},
		{"remote ref", `{m: {Schema: '{"$ref":"file:///etc/passwd"}'}}`, `RequestModels: {$default: m}, ModelSelectionExpression: \$default`, "Models.m.Schema:"},
		{"unknown model", `{m: {Schema: '{}'}}`, `RequestModels: {$default: nope}, ModelSelectionExpression: \$default`, `Routes.echo.RequestModels.$default: model "nope" is not in Models`},
		{"no selection expression", `{m: {Schema: '{}'}}`, `RequestModels: {$default: m}`, "Routes.echo.ModelSelectionExpression: required with RequestModels"},
		{"bad selection expression", `{m: {Schema: '{}'}}`, `RequestModels: {$default: m}, ModelSelectionExpression: $request.header.x`, "Routes.echo.ModelSelectionExpression:"},
		{"content type", `{m: {ContentType: text/plain, Schema: '{}'}}`, `RequestModels: {$default: m}, ModelSelectionExpression: \$default`, "Models.m.ContentType"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y := strings.Replace(chatConfig("http://127.0.0.1:1", "Models: "+tt.models+"\n"),
				"  echo: {Target: integrations/echo, RouteResponseSelectionExpression: $default}",
				"  echo: {Target: integrations/echo, "+tt.route+"}", 1)
			err := buildErr(t, y)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// buildErr is the error of parsing, validating and building yamlCfg.
func buildErr(t *testing.T, yamlCfg string) error {
	t.Helper()
	cfg, err := config.Parse([]byte(yamlCfg))
	if err != nil {
		return err
	}
	g, err := Build(context.Background(), cfg, Deps{Getenv: env})
	if err == nil {
		_ = g.Shutdown(context.Background())
	}
	return err
}

// modelTemplate is a CloudFormation stack with request validation: one Model whose
// Schema is an object and one whose Schema is JSON text.
const modelTemplate = `
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  BackendUrl: {Type: String}
Resources:
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: chat, ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action}
  SendModel:
    Type: AWS::ApiGatewayV2::Model
    Properties:
      ApiId: !Ref Api
      Name: sendModel
      ContentType: application/json
      Schema:
        $schema: http://json-schema.org/draft-04/schema#
        type: object
        required: [action, to]
        properties:
          to: {type: string, pattern: "^[a-z]+$"}
  AnyModel:
    Type: AWS::ApiGatewayV2::Model
    Properties:
      ApiId: !Ref Api
      Name: anyModel
      Schema: '{"type":"object"}'
  SendIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: HTTP_PROXY
      IntegrationMethod: POST
      IntegrationUri: !Sub ${BackendUrl}/send
  SendRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: send
      Target: !Sub integrations/${SendIntegration}
      ModelSelectionExpression: $request.body.action
      RequestModels: {send: sendModel, $default: anyModel}
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {ApiId: !Ref Api, StageName: dev}
`

func TestTemplateModels(t *testing.T) {
	be := echoBackend(t)
	dir := t.TempDir()
	tmpl, over := filepath.Join(dir, "api.yaml"), filepath.Join(dir, "overrides.yaml")
	if err := os.WriteFile(tmpl, []byte(modelTemplate), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(over, []byte(fmt.Sprintf("Parameters: {BackendUrl: %s}\n", be.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadTemplate(tmpl, over)
	if err != nil {
		t.Fatalf("LoadTemplate: %v", err)
	}
	wantModels := map[string]config.Model{
		"sendModel": {ContentType: "application/json", Schema: `{"$schema":"http://json-schema.org/draft-04/schema#","properties":{"to":{"pattern":"^[a-z]+$","type":"string"}},"required":["action","to"],"type":"object"}`},
		"anyModel":  {Schema: `{"type":"object"}`},
	}
	if diff := cmp.Diff(wantModels, cfg.Models); diff != "" {
		t.Errorf("Models (-want +got):\n%s", diff)
	}
	rt := cfg.Routes["send"]
	if diff := cmp.Diff(map[string]string{"send": "sendModel", "$default": "anyModel"}, rt.RequestModels); diff != "" {
		t.Errorf("RequestModels (-want +got):\n%s", diff)
	}
	if rt.ModelSelectionExpression != "$request.body.action" {
		t.Errorf("ModelSelectionExpression %q", rt.ModelSelectionExpression)
	}

	r := serveConfig(t, cfg, Deps{}, nil)
	c, _, err := websocketDial(t, r, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.CloseNow()
	write(t, c, `{"action":"send","to":"BOB!"}`) // pattern fails
	var got map[string]any
	if err := json.Unmarshal([]byte(read(t, c)), &got); err != nil || got["message"] != "Bad request body" {
		t.Fatalf("invalid send: %v %v", got, err)
	}
	write(t, c, `{"action":"send","to":"bob"}`)
	if call := be.next(t, "/send"); call.Body != `{"action":"send","to":"bob"}` {
		t.Errorf("backend got %q", call.Body)
	}
	if n := be.count("/send"); n != 1 {
		t.Errorf("backend called %d times, want 1", n)
	}
}
