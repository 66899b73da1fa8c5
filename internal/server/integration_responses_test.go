package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsgate/wsgate/internal/config"
)

// nodeLambda is a Lambda function run by a real node process per invocation
// (testdata/lambda/runner.js): the payload on stdin, the result on stdout, exit code 3
// for a thrown error (X-Amz-Function-Error: Unhandled). It records every payload.
type nodeLambda struct {
	handler string
	mu      sync.Mutex
	got     []string
}

func (n *nodeLambda) invoke(t testing.TB) func([]byte) ([]byte, string) {
	return func(payload []byte) ([]byte, string) {
		n.mu.Lock()
		n.got = append(n.got, string(payload))
		n.mu.Unlock()
		cmd := exec.Command("node", "testdata/lambda/runner.js", n.handler)
		cmd.Stdin = bytes.NewReader(payload)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if ee, ok := errors.AsType[*exec.ExitError](err); ok && ee.ExitCode() == 3 {
			return out, "Unhandled"
		}
		if err != nil {
			t.Errorf("node %s: %v: %s", n.handler, err, stderr.String())
			return []byte(`{"errorMessage":"runtime failed","errorType":"Runtime.Error"}`), "Unhandled"
		}
		return out, ""
	}
}

func (n *nodeLambda) payloads() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.got...)
}

// ordersBackend answers POSTs by the message's id: 200 with the order, 404 for
// "missing", 500 for anything else.
func ordersBackend(t testing.TB) *backend {
	return newBackend(t, func(w http.ResponseWriter, c backendCall) {
		var m struct{ ID string }
		_ = json.Unmarshal([]byte(c.Body), &m)
		switch m.ID {
		case "o-7":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"id":"o-7","total":12}`)
		case "missing":
			http.Error(w, "not found", http.StatusNotFound)
		default:
			http.Error(w, "backend exploded", http.StatusInternalServerError)
		}
	})
}

// TestTemplateIntegrationResponsesEndToEnd runs serve --template on a CloudFormation
// template with AWS::ApiGatewayV2::IntegrationResponse resources: an HTTP backend's
// 200, 404 and 500 each become the body their integration response's template makes,
// and an AWS (Lambda custom) integration invokes a real node handler with exactly the
// request template's output, its errors selected by their message.
func TestTemplateIntegrationResponsesEndToEnd(t *testing.T) {
	be := ordersBackend(t)
	fn := &nodeLambda{handler: "testdata/lambda/orders.js"}
	f := newFakeLambda(t, map[string]func([]byte) ([]byte, string){"orders": fn.invoke(t)})
	over := fmt.Sprintf("Parameters: {BackendUrl: %q, FunctionArn: orders}\n", be.URL+"/orders")
	tmpl, err := os.ReadFile("../config/testdata/template/integration-responses.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.ParseTemplate(tmpl, []byte(over))
	if err != nil {
		t.Fatal(err)
	}
	r := serveConfig(t, cfg, Deps{Lambda: f.client()}, nil)
	c := mustDial(t, r, login{})

	for _, tc := range []struct{ name, send, want string }{
		{"200, the $default template", `{"action":"get","id":"o-7"}`, `{"ok":true,"order":{"id":"o-7","total":12}}`},
		{"200, the template the message selects", `{"action":"get","id":"o-7","format":"short"}`, `o-7`},
		{"404", `{"action":"get","id":"missing"}`, `{"ok":false,"error":"no such order"}`},
	} {
		write(t, c, tc.send)
		if got := read(t, c); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
	write(t, c, `{"action":"get","id":"x"}`)
	if got := mustJSON(t, read(t, c)); got["ok"] != false || len(got["requestId"].(string)) == 0 {
		t.Errorf("500 by $default: %v", got)
	}
	if calls := be.count("/orders"); calls != 4 {
		t.Errorf("backend calls = %d, want 4", calls)
	}

	// AWS: success (the function's payload as is), a matched error, an unmatched one.
	write(t, c, `{"action":"place","order":{"item":"tea","qty":2}}`)
	placed := mustJSON(t, read(t, c))
	connID, _ := placed["connectionId"].(string)
	if placed["placed"] != "tea" || placed["qty"] != float64(2) || len(connID) != 16 {
		t.Errorf("AWS success: %v", placed)
	}
	write(t, c, `{"action":"place","order":{"qty":1}}`)
	if got := read(t, c); got != `{"error":"Invalid order: no item"}` {
		t.Errorf("AWS error matched by /Invalid.*/: %s", got)
	}
	write(t, c, `{"action":"place","order":{"item":"tea","qty":11}}`)
	if got := mustJSON(t, read(t, c)); got["errorMessage"] != "Too many: 11" || got["errorType"] != "RangeError" {
		t.Errorf("AWS error by $default (the error payload as is): %v", got)
	}
	// Conformance: what the function received is the template's output, not a proxy event.
	want := []string{
		`{"order":{"item":"tea","qty":2},"connectionId":"` + connID + `"}`,
		`{"order":{"qty":1},"connectionId":"` + connID + `"}`,
		`{"order":{"item":"tea","qty":11},"connectionId":"` + connID + `"}`,
	}
	if diff := cmp.Diff(want, fn.payloads()); diff != "" {
		t.Errorf("Lambda payloads (-want +got):\n%s", diff)
	}
}

// TestIntegrationResponsesNative: the same features from wsgate's own config — MOCK
// integration responses (with the wsgate ResponseTemplate as the mock's body), response
// templates selected by the status code, an AWS integration without a request template
// (the message passes through to the function), and no match without $default giving
// the client "Internal server error".
func TestIntegrationResponsesNative(t *testing.T) {
	be := ordersBackend(t)
	fn := &nodeLambda{handler: "testdata/lambda/orders.js"}
	f := newFakeLambda(t, map[string]func([]byte) ([]byte, string){"orders": fn.invoke(t)})
	cfg := fmt.Sprintf(`
Integrations:
  mock:
    IntegrationType: MOCK
    RequestTemplates: {$default: '{"statusCode": $input.json(''$.status'')}'}
    ResponseTemplate: '{"echo":$input.json(''$.text'')}'
    IntegrationResponses:
      /2\d\d/: {ResponseTemplates: {$default: '{"mock":"ok","body":$input.json(''$'')}'}}
      $default: {ResponseTemplates: {$default: '{"mock":"other"}'}}
  bystatus:
    IntegrationType: HTTP
    IntegrationUri: %[1]s/orders
    IntegrationResponses:
      $default:
        TemplateSelectionExpression: ${integration.response.statuscode}
        ResponseTemplates:
          "404": 'gone: $input.body'
          "$default": 'status $context.routeKey: $input.body'
  strict:
    IntegrationType: HTTP
    IntegrationUri: %[1]s/orders
    IntegrationResponses:
      /2\d\d/: {}
  passthrough:
    IntegrationType: AWS
    IntegrationUri: orders
    IntegrationResponses: {$default: {}}
Routes:
  $default: {Target: integrations/mock, RouteResponseSelectionExpression: $default}
  bystatus: {Target: integrations/bystatus, RouteResponseSelectionExpression: $default}
  strict: {Target: integrations/strict, RouteResponseSelectionExpression: $default}
  passthrough: {Target: integrations/passthrough, RouteResponseSelectionExpression: $default}
`, be.URL)
	r := startGateway(t, cfg, Deps{Lambda: f.client()})
	c := mustDial(t, r, login{})
	for _, tc := range []struct{ name, send, want string }{
		{"MOCK 200", `{"status":200,"text":"hi"}`, `{"mock":"ok","body":{"echo":"hi"}}`},
		{"MOCK 404 by $default", `{"status":404,"text":"hi"}`, `{"mock":"other"}`},
		{"template by status 404", `{"action":"bystatus","id":"missing"}`, "gone: not found\n"},
		{"template by status, $default", `{"action":"bystatus","id":"o-7"}`, `status bystatus: {"id":"o-7","total":12}`},
		{"no match, no $default", `{"action":"strict","id":"missing"}`, ""},
		{"matched, no template: as is", `{"action":"strict","id":"o-7"}`, `{"id":"o-7","total":12}`},
	} {
		write(t, c, tc.send)
		got := read(t, c)
		if tc.want == "" {
			if m := mustJSON(t, got); m["message"] != "Internal server error" {
				t.Errorf("%s: got %s, want Internal server error", tc.name, got)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}

	const msg = `{"action":"passthrough","order":{"item":"cake","qty":1},"connectionId":"from-the-client"}`
	write(t, c, msg)
	if got := mustJSON(t, read(t, c)); got["placed"] != "cake" || got["connectionId"] != "from-the-client" {
		t.Errorf("AWS passthrough: %v", got)
	}
	if diff := cmp.Diff([]string{msg}, fn.payloads()); diff != "" {
		t.Errorf("without a request template the function gets the message as is (-want +got):\n%s", diff)
	}
	if logs := r.logs.String(); !strings.Contains(logs, "no integration response matches") {
		t.Errorf("the unmatched status is not logged:\n%s", logs)
	}
}
