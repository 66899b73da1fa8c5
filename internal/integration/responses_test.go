package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/google/go-cmp/cmp"

	"github.com/wsgate/wsgate/internal/config"
)

func messageRequest(body string) *Request {
	return &Request{RouteKey: "get", EventType: EventMessage, ConnectionID: "conn-1", RequestID: "req-1", MessageID: "m1",
		ConnectedAt: time.Unix(1, 0), RequestTime: time.Unix(2, 0), Stage: "prod", APIID: "a1", Body: []byte(body)}
}

func TestResponseSelection(t *testing.T) {
	resp := &Response{StatusCode: 404, Header: http.Header{"X-Kind": {"a", "b"}, "Content-Type": {"application/json"}}}
	req := messageRequest(`{"format":"short","n":3}`)
	for _, tc := range []struct{ expr, want, err string }{
		{expr: `\$default`, want: "$default"},
		{expr: "200", want: "200"},
		{expr: "$integration.response.statuscode", want: "404"},
		{expr: "${integration.response.statuscode}", want: "404"},
		{expr: "s${integration.response.statuscode}-${request.body.format}", want: "s404-short"},
		{expr: "$integration.response.header.content-type", want: "application/json"},
		{expr: "${integration.response.header.X-Kind}", want: "a"},
		{expr: "${integration.response.multivalueheader.X-Kind}", want: "a,b"},
		{expr: "$request.body.format", want: "short"},
		{expr: "${request.body.n}", want: "3"},
		{expr: "${request.body.missing}x", want: "x"},
		{expr: "", err: "empty"},
		{expr: "$context.requestId", err: "not supported"},
		{expr: "a$integration.response.statuscode", err: "inside ${...}"},
		{expr: "${integration.response.statuscode", err: "unclosed"},
		{expr: "${integration.response.header.}", err: "not a header name"},
		{expr: "${integration.response.header.a b}", err: "not a header name"},
		{expr: "${request.bodyx}", err: "does not continue"},
	} {
		s, err := CompileResponseSelection(tc.expr)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.expr, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.expr, err)
			continue
		}
		if got := s.Eval(req, resp); got != tc.want {
			t.Errorf("%q = %q, want %q", tc.expr, got, tc.want)
		}
	}
}

// FuzzCompileResponseSelection: no expression panics when compiled or evaluated.
func FuzzCompileResponseSelection(f *testing.F) {
	for _, s := range []string{`\$default`, "$integration.response.statuscode", "s${integration.response.statuscode}-${request.body.format}",
		"${integration.response.multivalueheader.X-Kind}", "$request.body.a[0]", "${request.body", "${}", "$", `\`} {
		f.Add(s, `{"format":"short","a":[1]}`)
	}
	f.Fuzz(func(t *testing.T, expr, body string) {
		s, err := CompileResponseSelection(expr)
		if err != nil {
			return
		}
		_ = s.Eval(messageRequest(body), &Response{StatusCode: 200, Header: http.Header{"X-Kind": {"v"}}})
	})
}

// integrationResponses is the HTTP and MOCK configuration the tests below share: 2xx
// by a template chosen from the message, 404 by its own, the rest by $default.
var integrationResponses = map[string]config.IntegrationResponse{
	`/2\d\d/`: {TemplateSelectionExpression: "${request.body.format}", ResponseTemplates: map[string]string{
		"short":    `$input.path('$.id')`,
		"$default": `{"ok":true,"order":$input.json('$'),"by":"$context.connectionId"}`,
	}},
	"/404/":    {ResponseTemplates: map[string]string{"$default": `{"ok":false,"error":"no such order"}`}},
	"$default": {ResponseTemplates: map[string]string{"$default": `{"ok":false,"status":"$input.body"}`}},
}

func TestHTTPIntegrationResponses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		w.WriteHeader(code)
		if code == 200 {
			_, _ = io.WriteString(w, `{"id":"o-7","total":12}`)
			return
		}
		fmt.Fprintf(w, "backend %d", code)
	}))
	defer srv.Close()
	build := func(t *testing.T, path string, irs map[string]config.IntegrationResponse) Integration {
		t.Helper()
		in, err := New(config.Integration{IntegrationType: config.IntegrationHTTP, IntegrationURI: srv.URL + path, IntegrationResponses: irs}, Deps{})
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	for _, tc := range []struct{ name, path, body, want string }{
		{"2xx, $default template", "/200", `{"format":"long"}`, `{"ok":true,"order":{"id":"o-7","total":12},"by":"conn-1"}`},
		{"2xx, selected template", "/200", `{"format":"short"}`, `o-7`},
		{"404", "/404", `{}`, `{"ok":false,"error":"no such order"}`},
		{"500 by $default", "/500", `{}`, `{"ok":false,"status":"backend 500"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := build(t, tc.path, integrationResponses).Invoke(context.Background(), messageRequest(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if string(resp.Body) != tc.want {
				t.Errorf("body = %s, want %s", resp.Body, tc.want)
			}
		})
	}
	t.Run("no match, no $default", func(t *testing.T) {
		irs := map[string]config.IntegrationResponse{`/2\d\d/`: {}}
		_, err := build(t, "/500", irs).Invoke(context.Background(), messageRequest(`{}`))
		if !errors.Is(err, ErrNoIntegrationResponse) {
			t.Errorf("error = %v, want ErrNoIntegrationResponse", err)
		}
		resp, err := build(t, "/200", irs).Invoke(context.Background(), messageRequest(`{}`))
		if err != nil || string(resp.Body) != `{"id":"o-7","total":12}` {
			t.Errorf("a response without templates: %v, %s; want the body as is", err, resp.Body)
		}
	})
	t.Run("no integration responses: as is", func(t *testing.T) {
		resp, err := build(t, "/404", nil).Invoke(context.Background(), messageRequest(`{}`))
		if err != nil || resp.StatusCode != 404 || string(resp.Body) != "backend 404" {
			t.Errorf("got %v, %+v", err, resp)
		}
	})
	t.Run("HTTP_PROXY is refused by Validate and ignores them", func(t *testing.T) {
		in, err := New(config.Integration{IntegrationType: config.IntegrationHTTPProxy, IntegrationURI: srv.URL + "/404", IntegrationResponses: integrationResponses}, Deps{})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := in.Invoke(context.Background(), messageRequest(`{}`))
		if err != nil || string(resp.Body) != "backend 404" {
			t.Errorf("got %v, %+v", err, resp)
		}
	})
}

func TestMockIntegrationResponses(t *testing.T) {
	for _, tc := range []struct{ name, status, want string }{
		{"200", "200", `{"ok":true,"order":{"id":"m"},"by":"conn-1"}`},
		{"404", "404", `{"ok":false,"error":"no such order"}`},
		{"418 by $default", "418", `{"ok":false,"status":"{"id":"m"}"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := New(config.Integration{IntegrationType: config.IntegrationMock,
				RequestTemplates:     map[string]string{"$default": `{"statusCode": ` + tc.status + `}`},
				ResponseTemplate:     `{"id":"m"}`,
				IntegrationResponses: integrationResponses}, Deps{})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := in.Invoke(context.Background(), messageRequest(`{"format":"long"}`))
			if err != nil {
				t.Fatal(err)
			}
			if string(resp.Body) != tc.want || strconv.Itoa(resp.StatusCode) != tc.status {
				t.Errorf("%d %s, want %s %s", resp.StatusCode, resp.Body, tc.status, tc.want)
			}
		})
	}
}

// invokerFunc is a LambdaInvoker made of a function (the real SDK client against a
// served Invoke API is in internal/server's tests).
type invokerFunc func(*lambda.InvokeInput) (*lambda.InvokeOutput, error)

func (f invokerFunc) Invoke(_ context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	return f(in)
}

func TestLambdaCustom(t *testing.T) {
	var got []string
	fn := invokerFunc(func(in *lambda.InvokeInput) (*lambda.InvokeOutput, error) {
		got = append(got, aws.ToString(in.FunctionName)+" "+string(in.Payload))
		switch {
		case strings.Contains(string(in.Payload), "bad"):
			return &lambda.InvokeOutput{StatusCode: 200, FunctionError: aws.String("Unhandled"),
				Payload: []byte(`{"errorMessage":"Invalid order: bad","errorType":"Error","stackTrace":[]}`)}, nil
		case strings.Contains(string(in.Payload), "boom"):
			return &lambda.InvokeOutput{StatusCode: 200, FunctionError: aws.String("Unhandled"),
				Payload: []byte(`{"errorMessage":"boom","errorType":"Error"}`)}, nil
		}
		return &lambda.InvokeOutput{StatusCode: 200, Payload: []byte(`{"placed":true}`)}, nil
	})
	cfg := config.Integration{
		IntegrationType:  config.IntegrationAWS,
		IntegrationURI:   "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:orders/invocations",
		RequestTemplates: map[string]string{"$default": `{"order":$input.json('$.order'),"connectionId":"$context.connectionId"}`},
		IntegrationResponses: map[string]config.IntegrationResponse{
			"$default":    {},
			"/Invalid.*/": {ResponseTemplates: map[string]string{"$default": `{"error":$input.json('$.errorMessage')}`}},
		},
	}
	in, err := New(cfg, Deps{Lambda: fn})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, body, want string
		status           int
	}{
		{"success: the payload as is", `{"order":"ok"}`, `{"placed":true}`, 200},
		{"error matched by its message", `{"order":"bad"}`, `{"error":"Invalid order: bad"}`, 500},
		{"unmatched error: $default", `{"order":"boom"}`, `{"errorMessage":"boom","errorType":"Error"}`, 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := in.Invoke(context.Background(), messageRequest(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if string(resp.Body) != tc.want || resp.StatusCode != tc.status {
				t.Errorf("%d %s, want %d %s", resp.StatusCode, resp.Body, tc.status, tc.want)
			}
		})
	}
	want := []string{
		`arn:aws:lambda:eu-west-1:123456789012:function:orders {"order":"ok","connectionId":"conn-1"}`,
		`arn:aws:lambda:eu-west-1:123456789012:function:orders {"order":"bad","connectionId":"conn-1"}`,
		`arn:aws:lambda:eu-west-1:123456789012:function:orders {"order":"boom","connectionId":"conn-1"}`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("payloads (-want +got):\n%s", diff)
	}

	t.Run("no template: the body passes through; no integration responses: an error fails", func(t *testing.T) {
		got = nil
		bare, err := New(config.Integration{IntegrationType: config.IntegrationAWS, IntegrationURI: "orders"}, Deps{Lambda: fn})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := bare.Invoke(context.Background(), messageRequest(`{"raw":1}`))
		if err != nil || string(resp.Body) != `{"placed":true}` {
			t.Errorf("got %v, %+v", err, resp)
		}
		if diff := cmp.Diff([]string{`orders {"raw":1}`}, got); diff != "" {
			t.Errorf("payload (-want +got):\n%s", diff)
		}
		if _, err := bare.Invoke(context.Background(), messageRequest(`boom`)); err == nil || !strings.Contains(err.Error(), "failed (Unhandled)") {
			t.Errorf("function error = %v", err)
		}
	})
	t.Run("no match, no $default", func(t *testing.T) {
		strict := cfg
		strict.IntegrationResponses = map[string]config.IntegrationResponse{"/Invalid.*/": {}}
		s, err := New(strict, Deps{Lambda: fn})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Invoke(context.Background(), messageRequest(`{"order":"boom"}`))
		if !errors.Is(err, ErrNoIntegrationResponse) || strings.Contains(err.Error(), "boom") {
			t.Errorf("error = %v: want ErrNoIntegrationResponse, without the error message", err)
		}
		if _, err := s.Invoke(context.Background(), messageRequest(`{"order":"ok"}`)); !errors.Is(err, ErrNoIntegrationResponse) {
			t.Errorf("success without $default: %v", err)
		}
	})
}

func TestIntegrationResponseBuildErrors(t *testing.T) {
	for _, tc := range []struct {
		irs  map[string]config.IntegrationResponse
		want string
	}{
		{map[string]config.IntegrationResponse{"200": {}}, `IntegrationResponses["200"]: must be $default`},
		{map[string]config.IntegrationResponse{"$default": {ResponseTemplates: map[string]string{"$default": "#macro(x)"}}}, `IntegrationResponses["$default"].ResponseTemplates["$default"]: template:`},
		{map[string]config.IntegrationResponse{"$default": {TemplateSelectionExpression: "$context.x", ResponseTemplates: map[string]string{"a": "x"}}}, `IntegrationResponses["$default"].TemplateSelectionExpression:`},
	} {
		_, err := New(config.Integration{IntegrationType: config.IntegrationMock, IntegrationResponses: tc.irs}, Deps{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}
