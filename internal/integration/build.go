package integration

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/wsgate/wsgate/internal/config"
)

// LambdaInvoker invokes a Lambda function; *lambda.Client satisfies it, with its
// endpoint pointing at a region or at a local Lambda emulator.
type LambdaInvoker interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, opts ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// Deps are what integrations share.
type Deps struct {
	// HTTPClient calls HTTP and HTTP_PROXY backends. Nil: [NewHTTPClient].
	HTTPClient *http.Client
	// Lambda invokes AWS_PROXY functions. Required when one is configured.
	Lambda LambdaInvoker
	// StageVariables are substituted into URIs.
	StageVariables map[string]string
}

// NewHTTPClient returns the pooled keep-alive client integrations use by default: many
// idle connections per backend, no redirects followed (API Gateway follows none).
func NewHTTPClient() *http.Client {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// New builds the integration cfg describes. Errors name the field at fault, relative to
// the integration.
func New(cfg config.Integration, deps Deps) (Integration, error) {
	timeout := time.Duration(cfg.TimeoutInMillis) * time.Millisecond
	if timeout <= 0 {
		timeout = 29 * time.Second
	}
	if deps.HTTPClient == nil {
		deps.HTTPClient = NewHTTPClient()
	}
	var tpl *templates
	if len(cfg.RequestTemplates) > 0 {
		var err error
		if tpl, err = compileTemplates(cfg); err != nil {
			return nil, err
		}
	}
	resps, err := compileResponses(cfg) // responses.go
	if err != nil {
		return nil, err
	}
	switch cfg.IntegrationType {
	case config.IntegrationHTTP, config.IntegrationHTTPProxy:
		params, err := compileParameters(cfg.RequestParameters)
		if err != nil {
			return nil, err
		}
		uri, err := parseURI(config.SubstituteStageVariables(cfg.IntegrationURI, deps.StageVariables))
		if err != nil {
			return nil, fmt.Errorf("IntegrationUri: %w", err)
		}
		return &HTTP{
			client:    deps.HTTPClient,
			uri:       uri,
			logURL:    logURL(uri),
			method:    httpMethod(cfg.IntegrationMethod),
			params:    params,
			templates: tpl,
			responses: resps,
			proxy:     cfg.IntegrationType == config.IntegrationHTTPProxy,
			timeout:   timeout,
		}, nil
	case config.IntegrationAWSProxy, config.IntegrationAWS:
		if deps.Lambda == nil {
			return nil, fmt.Errorf("IntegrationUri: no Lambda client configured")
		}
		fn, err := config.LambdaFunction(config.SubstituteStageVariables(cfg.IntegrationURI, deps.StageVariables))
		if err != nil {
			return nil, fmt.Errorf("IntegrationUri: %w", err)
		}
		if cfg.IntegrationType == config.IntegrationAWS {
			return &LambdaCustom{invoker: deps.Lambda, function: fn, timeout: timeout, templates: tpl, responses: resps}, nil
		}
		return &Lambda{invoker: deps.Lambda, function: fn, timeout: timeout}, nil
	case config.IntegrationMock:
		m := &Mock{templates: tpl, responses: resps}
		if cfg.ResponseTemplate != "" {
			t, err := ParseTemplate(cfg.ResponseTemplate)
			if err != nil {
				return nil, fmt.Errorf("ResponseTemplate: %w", err)
			}
			m.response = t
		}
		return m, nil
	default:
		return nil, fmt.Errorf("IntegrationType: %q is not supported", cfg.IntegrationType)
	}
}

// parseURI parses an HTTP integration's URI, its path spelled as it will be sent: each
// segment as written when it is valid (an escaped "%2F" stays one), the {name}
// placeholders kept for substitutePath. (net/url alone would forget how a path with a
// "{" in it was escaped.)
func parseURI(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		// Not err itself: a *url.Error prints the whole URI, query included.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return nil, fmt.Errorf("not a URL: %w", err)
	}
	substitutePath(u, nil)
	return u, nil
}

func httpMethod(m string) string {
	if m == "" || m == "ANY" {
		return http.MethodPost
	}
	return m
}

// templates are an integration's request templates and how one is selected.
type templates struct {
	byKey     map[string]*Template
	selection Selection
}

func compileTemplates(cfg config.Integration) (*templates, error) {
	t := &templates{byKey: make(map[string]*Template, len(cfg.RequestTemplates))}
	for k, src := range cfg.RequestTemplates {
		tp, err := ParseTemplate(src)
		if err != nil {
			return nil, fmt.Errorf("RequestTemplates[%q]: %w", k, err)
		}
		t.byKey[k] = tp
	}
	expr := cfg.TemplateSelectionExpression
	if expr == "" || expr == "$default" {
		expr = `\$default`
	}
	sel, err := CompileSelection(expr)
	if err != nil {
		return nil, fmt.Errorf("TemplateSelectionExpression: %w", err)
	}
	t.selection = sel
	return t, nil
}

// render renders the selected template; ok is false when none is selected (the body
// passes through).
func (t *templates) render(req *Request) (out []byte, ok bool, err error) {
	if t == nil {
		return nil, false, nil
	}
	var key string
	if t.selection.UsesBody() {
		doc, isJSON := DecodeBody(req.Body)
		key = t.selection.Eval(doc, isJSON)
	} else {
		key = t.selection.Eval(nil, false)
	}
	tp, found := t.byKey[key]
	if !found {
		if tp, found = t.byKey["$default"]; !found {
			return nil, false, nil
		}
	}
	out, err = tp.Render(templateData(req))
	return out, true, err
}

// templateData is what a template renders from for req: its $context and stage
// variables, and on CONNECT the handshake's headers and query for $input.params.
func templateData(req *Request) *TemplateData {
	d := req.TemplateData()
	d.Headers, d.Query = req.Headers, req.Query
	return d
}
