package config

// The translation of a template's AWS::ApiGatewayV2 resources to config entries.

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// pending is a config field whose template value cannot be known locally.
type pending struct {
	where string // Resources.X.Properties.Y
	err   error
}

type builder struct {
	ev      *evaluator
	cfg     *Config
	pending map[string]pending // by config field, e.g. Integrations.X.IntegrationUri
	errs    []error            // mistakes in the template itself
	limit   error              // the first property whose evaluation met a bound (*limitError)
	// routeIDs maps a route key to the route's logical id, for error messages.
	routeIDs map[string]string
	// modelIDs maps a model name to the model's logical id (template_models.go).
	modelIDs map[string]string

	// Lambda functions (template_functions.go, template_sam.go).
	dir         string            // the template's directory: code paths are relative to it
	overDir     string            // the overrides file's directory
	inlineDir   string            // where inline code is written, one directory per function
	inline      []inlineCode      // inline code LoadTemplate writes
	functionIDs map[string]string // function name → logical id
	report      TemplateReport
}

// resource is a template resource that exists (its Condition, if any, holds).
type resource struct {
	id    string
	props map[string]any
	meta  map[string]any // its Metadata (CDK's aws:asset:path)
}

// build translates the template's resources. A bound of evaluation met (see
// maxEvalDepth) is the error, whatever it made fail after it.
func (b *builder) build(root map[string]any, stageName string) error {
	err := b.resources(root, stageName)
	switch {
	case b.limit != nil:
		return b.limit
	case b.ev.limit != nil:
		return b.ev.limit
	}
	return err
}

func (b *builder) resources(root map[string]any, stageName string) error {
	byType, err := b.functionResources(root)
	if err != nil {
		return err
	}

	apis := byType["AWS::ApiGatewayV2::Api"]
	if len(apis) != 1 {
		return fmt.Errorf("%d AWS::ApiGatewayV2::Api resources, want exactly one (a WEBSOCKET API)", len(apis))
	}
	api := apis[0]
	if b.cfg.API.Name = b.str(api, "Name", ""); b.cfg.API.Name == "" {
		b.cfg.API.Name = api.id
	}
	if pt := b.str(api, "ProtocolType", ""); pt != "WEBSOCKET" {
		return fmt.Errorf("Resources.%s.Properties.ProtocolType: %q: wsgate runs WEBSOCKET APIs", api.id, pt)
	}
	b.cfg.API.RouteSelectionExpression = b.str(api, "RouteSelectionExpression", "Api.RouteSelectionExpression")
	b.cfg.API.APIKeySelectionExpression = b.str(api, "ApiKeySelectionExpression", "Api.ApiKeySelectionExpression") // API keys
	for _, p := range []string{"Body", "BodyS3Location", "Target", "RouteKey"} {
		if _, ok := api.props[p]; ok {
			return fmt.Errorf("Resources.%s.Properties.%s: not supported (define routes as AWS::ApiGatewayV2::Route resources)", api.id, p)
		}
	}

	belongs := func(r resource) error {
		if id, err := b.ev.eval(r.props["ApiId"]); err != nil || id != api.id {
			return fmt.Errorf("Resources.%s.Properties.ApiId: must be !Ref %s, the template's API", r.id, api.id)
		}
		return nil
	}

	b.cfg.Integrations = map[string]Integration{}
	for _, r := range byType["AWS::ApiGatewayV2::Integration"] {
		if err := belongs(r); err != nil {
			return err
		}
		f := "Integrations." + r.id + "."
		in := Integration{
			IntegrationType:             b.str(r, "IntegrationType", f+"IntegrationType"),
			IntegrationURI:              b.str(r, "IntegrationUri", f+"IntegrationUri"),
			IntegrationMethod:           b.str(r, "IntegrationMethod", f+"IntegrationMethod"),
			RequestParameters:           b.strMap(r, "RequestParameters", f+"RequestParameters"),
			RequestTemplates:            b.strMap(r, "RequestTemplates", f+"RequestTemplates"),
			TemplateSelectionExpression: b.str(r, "TemplateSelectionExpression", f+"TemplateSelectionExpression"),
			TimeoutInMillis:             b.integer(r, "TimeoutInMillis", f+"TimeoutInMillis"),
		}
		b.cfg.Integrations[r.id] = in
	}
	if err := b.integrationResponses(byType, belongs); err != nil { // template_integration_responses.go
		return err
	}

	b.cfg.Authorizers = map[string]Authorizer{}
	for _, r := range byType["AWS::ApiGatewayV2::Authorizer"] {
		if err := belongs(r); err != nil {
			return err
		}
		f := "Authorizers." + r.id + "."
		b.cfg.Authorizers[r.id] = Authorizer{
			AuthorizerType:               b.str(r, "AuthorizerType", f+"AuthorizerType"),
			AuthorizerURI:                b.str(r, "AuthorizerUri", f+"AuthorizerUri"),
			IdentitySource:               b.strList(r, "IdentitySource", f+"IdentitySource"),
			AuthorizerResultTTLInSeconds: b.integer(r, "AuthorizerResultTtlInSeconds", f+"AuthorizerResultTtlInSeconds"),
		}
	}

	if err := b.models(byType, belongs); err != nil { // request validation (template_models.go)
		return err
	}

	b.cfg.Routes = map[string]Route{}
	b.routeIDs = map[string]string{}
	keyOf := map[string]string{} // route logical id → route key
	for _, r := range byType["AWS::ApiGatewayV2::Route"] {
		if err := belongs(r); err != nil {
			return err
		}
		key, e := b.ev.eval(r.props["RouteKey"])
		ks, _ := key.(string)
		if e != nil || ks == "" {
			return fmt.Errorf("Resources.%s.Properties.RouteKey: a route key is required (%v)", r.id, e)
		}
		if other, dup := b.routeIDs[ks]; dup {
			return fmt.Errorf("Resources.%s.Properties.RouteKey: %q is also %s's", r.id, ks, other)
		}
		b.routeIDs[ks], keyOf[r.id] = r.id, ks
		f := "Routes." + ks + "."
		rt := Route{
			AuthorizationType:                b.str(r, "AuthorizationType", f+"AuthorizationType"),
			AuthorizerID:                     b.str(r, "AuthorizerId", f+"AuthorizerId"),
			Target:                           b.str(r, "Target", f+"Target"),
			RouteResponseSelectionExpression: b.str(r, "RouteResponseSelectionExpression", f+"RouteResponseSelectionExpression"),
			// request validation (template_models.go)
			RequestModels:            b.strMap(r, "RequestModels", f+"RequestModels"),
			ModelSelectionExpression: b.str(r, "ModelSelectionExpression", f+"ModelSelectionExpression"),
			APIKeyRequired:           b.boolean(r, "ApiKeyRequired", f+"ApiKeyRequired"), // template_apikeys.go
		}
		id, ok := IntegrationID(rt.Target)
		if _, exists := b.cfg.Integrations[id]; rt.Target != "" && (!ok || !exists) {
			return fmt.Errorf("Resources.%s.Properties.Target: %q is not integrations/{an AWS::ApiGatewayV2::Integration of this template}", r.id, rt.Target)
		}
		if _, ok := b.cfg.Authorizers[rt.AuthorizerID]; rt.AuthorizerID != "" && !ok {
			return fmt.Errorf("Resources.%s.Properties.AuthorizerId: %q is not an AWS::ApiGatewayV2::Authorizer of this template", r.id, rt.AuthorizerID)
		}
		b.cfg.Routes[ks] = rt
	}

	// Two-way routes: AWS sends the integration's response only with both the route's
	// RouteResponseSelectionExpression and a $default route response.
	responded := map[string]bool{}
	for _, r := range byType["AWS::ApiGatewayV2::RouteResponse"] {
		if err := belongs(r); err != nil {
			return err
		}
		id, _ := b.ev.eval(r.props["RouteId"])
		ids, _ := id.(string)
		if _, ok := keyOf[ids]; !ok {
			return fmt.Errorf("Resources.%s.Properties.RouteId: must be !Ref to an AWS::ApiGatewayV2::Route of this template", r.id)
		}
		if k := b.str(r, "RouteResponseKey", ""); k != "$default" {
			return fmt.Errorf("Resources.%s.Properties.RouteResponseKey: %q: only $default is supported", r.id, k)
		}
		responded[keyOf[ids]] = true
	}
	for _, key := range slices.Sorted(maps.Keys(b.cfg.Routes)) {
		rt := b.cfg.Routes[key]
		if rt.RouteResponseSelectionExpression != "" && !responded[key] {
			return fmt.Errorf("Resources.%s.Properties.RouteResponseSelectionExpression: set, but no AWS::ApiGatewayV2::RouteResponse (RouteResponseKey $default) is for this route, so AWS would send the client nothing", b.routeIDs[key])
		}
		if rt.RouteResponseSelectionExpression == "" && responded[key] {
			return fmt.Errorf("Resources.%s.Properties.RouteResponseSelectionExpression: a RouteResponse is for this route, but without RouteResponseSelectionExpression ($default) AWS does not use it", b.routeIDs[key])
		}
	}

	stages := byType["AWS::ApiGatewayV2::Stage"]
	var stage *resource
	switch {
	case len(stages) == 1:
		stage = &stages[0]
	case len(stages) > 1:
		var names []string
		for i := range stages {
			n := b.str(stages[i], "StageName", "")
			names = append(names, n)
			if n == stageName {
				stage = &stages[i]
			}
		}
		if stage == nil {
			return fmt.Errorf("%d AWS::ApiGatewayV2::Stage resources (%q): choose one with Stage.StageName in the overrides", len(names), names)
		}
	}
	if stage != nil {
		if err := belongs(*stage); err != nil {
			return err
		}
		b.cfg.Stage.StageName = b.str(*stage, "StageName", "Stage.StageName")
		b.cfg.Stage.StageVariables = b.strMap(*stage, "StageVariables", "Stage.StageVariables")
		b.accessLogSettings(*stage) // accesslog.go
		if v, ok := b.value(*stage, "DefaultRouteSettings", "").(map[string]any); ok {
			if rs, ok := b.routeSettings(*stage, "DefaultRouteSettings", v); ok {
				b.cfg.Stage.DefaultRouteSettings = &rs
			}
		} else if _, set := stage.props["DefaultRouteSettings"]; set {
			b.bad(*stage, "DefaultRouteSettings", "a RouteSettings object")
		}
		if v, ok := b.value(*stage, "RouteSettings", "").(map[string]any); ok {
			b.cfg.Stage.RouteSettings = make(map[string]RouteSettings, len(v))
			for key, x := range v {
				m, ok := x.(map[string]any)
				if !ok {
					b.bad(*stage, "RouteSettings."+key, "a RouteSettings object")
					continue
				}
				if rs, ok := b.routeSettings(*stage, "RouteSettings."+key, m); ok {
					b.cfg.Stage.RouteSettings[key] = rs
				}
			}
		} else if _, set := stage.props["RouteSettings"]; set {
			b.bad(*stage, "RouteSettings", "a map of route keys to RouteSettings")
		}
	}
	return nil
}

// functionResources groups root's resources by type, checks the types (and the SAM
// transform), and reads its Lambda functions (SAM's Globals merged in) into b.cfg: what
// every template, the API's and the overrides' Stacks, starts with. Functions come
// first because anything may refer to them.
func (b *builder) functionResources(root map[string]any) (map[string][]resource, error) {
	sam, err := transform(root) // template_sam.go
	if err != nil {
		return nil, err
	}
	byType, err := b.group(root)
	if err != nil {
		return nil, err
	}
	if err := b.checkTypes(byType, sam); err != nil {
		return nil, err
	}
	globals, err := samGlobals(root)
	if err != nil {
		return nil, err
	}
	b.lambdaNames(byType)
	b.functions(byType, globals)
	return byType, nil
}

// group sorts the resources that exist (their Condition, if any, holds) by type.
func (b *builder) group(root map[string]any) (map[string][]resource, error) {
	raw, _ := root["Resources"].(map[string]any)
	byType := map[string][]resource{}
	for _, id := range slices.Sorted(maps.Keys(raw)) {
		r, ok := raw[id].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("resource %s is not a mapping", id)
		}
		if cond, ok := r["Condition"].(string); ok {
			holds, err := b.ev.condition(cond)
			if err != nil {
				return nil, fmt.Errorf("Resources.%s.Condition: %w", id, err)
			}
			if !holds {
				continue
			}
		}
		typ, _ := r["Type"].(string)
		props, _ := r["Properties"].(map[string]any)
		meta, _ := r["Metadata"].(map[string]any)
		byType[typ] = append(byType[typ], resource{id: id, props: props, meta: meta})
	}
	return byType, nil
}

// value evaluates property p of r; an unresolvable value is recorded as pending for
// field (or returned as nil when field is "").
func (b *builder) value(r resource, p, field string) any {
	raw, ok := r.props[p]
	if !ok {
		return nil
	}
	v, err := b.ev.eval(raw)
	if err != nil {
		where := "Resources." + r.id + ".Properties." + p
		var u *unresolved
		var limit *limitError
		switch {
		case errors.As(err, &limit):
			if b.limit == nil {
				b.limit = fmt.Errorf("%s: %w", where, err)
			}
		case !errors.As(err, &u):
			b.errs = append(b.errs, fmt.Errorf("%s: %w", where, err))
		case field != "":
			b.pending[field] = pending{where: where, err: err}
		}
		return nil
	}
	if v == noValue {
		return nil
	}
	return v
}

func (b *builder) str(r resource, p, field string) string {
	switch v := b.value(r, p, field).(type) {
	case nil:
		return ""
	case string:
		return v
	case bool, int, float64:
		return fmt.Sprint(v)
	default:
		b.bad(r, p, "a string")
		return ""
	}
}

func (b *builder) integer(r resource, p, field string) int {
	switch v := b.value(r, p, field).(type) {
	case nil:
		return 0
	case int:
		return v
	case float64:
		if v == float64(int(v)) {
			return int(v)
		}
	case string:
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	b.bad(r, p, "an integer")
	return 0
}

func (b *builder) strList(r resource, p, field string) []string {
	switch v := b.value(r, p, field).(type) {
	case nil:
		return nil
	case string: // "a, b" is accepted for identity sources
		var out []string
		for s := range strings.SplitSeq(v, ",") {
			out = append(out, strings.TrimSpace(s))
		}
		return out
	case []any:
		var out []string
		for _, x := range v {
			if x == noValue {
				continue
			}
			s, ok := x.(string)
			if !ok {
				b.bad(r, p, "a list of strings")
				return nil
			}
			out = append(out, s)
		}
		return out
	}
	b.bad(r, p, "a list of strings")
	return nil
}

func (b *builder) strMap(r resource, p, field string) map[string]string {
	switch v := b.value(r, p, field).(type) {
	case nil:
		return nil
	case map[string]any:
		out := make(map[string]string, len(v))
		for k, x := range v {
			switch x := x.(type) {
			case string:
				out[k] = x
			case int, float64, bool:
				out[k] = fmt.Sprint(x)
			default:
				if x != noValue {
					b.bad(r, p, "a map of strings")
					return nil
				}
			}
		}
		return out
	}
	b.bad(r, p, "a map of strings")
	return nil
}

// routeSettings reads an AWS::ApiGatewayV2::Stage RouteSettings object (throttling;
// the logging and metrics fields are accepted and have no effect).
func (b *builder) routeSettings(r resource, p string, m map[string]any) (RouteSettings, bool) {
	var rs RouteSettings
	for k, v := range m {
		ok := true
		switch k {
		case "ThrottlingRateLimit":
			switch n := v.(type) {
			case int:
				rs.ThrottlingRateLimit = float64(n)
			case float64:
				rs.ThrottlingRateLimit = n
			default:
				ok = false
			}
		case "ThrottlingBurstLimit":
			switch n := v.(type) {
			case int:
				rs.ThrottlingBurstLimit = n
			case float64:
				rs.ThrottlingBurstLimit, ok = int(n), n == float64(int(n))
			default:
				ok = false
			}
		case "DataTraceEnabled", "DetailedMetricsEnabled":
			_, ok = v.(bool)
		case "LoggingLevel":
			_, ok = v.(string)
		default:
			b.errs = append(b.errs, fmt.Errorf("Resources.%s.Properties.%s.%s: not a RouteSettings property", r.id, p, k))
			return rs, false
		}
		if !ok {
			b.bad(r, p+"."+k, "of the right type")
			return rs, false
		}
	}
	return rs, true
}

func (b *builder) bad(r resource, p, want string) {
	b.errs = append(b.errs, fmt.Errorf("Resources.%s.Properties.%s: not %s", r.id, p, want))
}

// templateNames rewrites Validate's field names (Routes.$connect.Target) to the
// template's (Resources.ConnectRoute.Properties.Target), keeping the config name for
// fields an override may have set.
func (b *builder) templateNames(err error) error {
	inner := errors.Unwrap(err)
	list, ok := inner.(interface{ Unwrap() []error })
	if !ok {
		return err
	}
	var out []error
	for _, e := range list.Unwrap() {
		msg := e.Error()
		field, rest, _ := strings.Cut(msg, ": ")
		parts := strings.SplitN(field, ".", 3)
		id := ""
		if len(parts) >= 2 {
			switch parts[0] {
			case "Routes":
				id = b.routeIDs[parts[1]]
			case "Integrations", "Authorizers":
				id = parts[1]
			case "Functions": // template_functions.go
				id = b.functionIDs[parts[1]]
			}
		}
		if id != "" {
			where := "Resources." + id
			if len(parts) == 3 {
				where += ".Properties." + parts[2]
			}
			msg = fmt.Sprintf("%s (%s): %s", where, field, rest)
		}
		out = append(out, errors.New(msg))
	}
	return fmt.Errorf("invalid configuration: %w", errors.Join(out...))
}
