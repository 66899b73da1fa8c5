package config

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// LoadTemplate reads a CloudFormation template defining an AWS::ApiGatewayV2 WebSocket
// API and, if overridesPath is not empty, a YAML file in the config format whose Server
// section and entries override the template's (local integration URIs, the built-in
// authorizer in place of a Lambda). It returns the validated Config.
func LoadTemplate(templatePath, overridesPath string) (*Config, error) {
	tmpl, err := os.ReadFile(templatePath)
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	var over []byte
	if overridesPath != "" {
		if over, err = os.ReadFile(overridesPath); err != nil {
			return nil, fmt.Errorf("overrides: %w", err)
		}
	}
	c, err := ParseTemplate(tmpl, over)
	if err != nil {
		if overridesPath != "" {
			return nil, fmt.Errorf("%s (overrides %s): %w", templatePath, overridesPath, err)
		}
		return nil, fmt.Errorf("%s: %w", templatePath, err)
	}
	return c, nil
}

// Overrides is the --overrides file: the config format, plus values for the template's
// parameters. Its Server section replaces the defaults; an entry of Api, Stage, Routes
// (by route key), Integrations or Authorizers (by logical id) replaces the fields it
// sets of the template's. An authorizer override with Cookie makes it the built-in
// cookie authorizer (its AuthorizerUri is dropped); an integration override with
// IntegrationType MOCK drops the template's IntegrationUri and RequestParameters.
type Overrides struct {
	Config `yaml:",inline"`
	// Parameters gives template parameters values (CommaDelimitedList ones as "a,b").
	// The pseudo parameter AWS::StackName can be given too (default "wsgate");
	// AWS::Region and AWS::AccountId are Server.Region and Server.AccountId. Default:
	// each parameter's Default.
	Parameters map[string]string `yaml:"Parameters"`
}

// ParseTemplate maps a CloudFormation template (YAML or JSON, short or long intrinsic
// function forms) and an optional overrides file (nil for none) onto a validated
// Config. It reads the AWS::ApiGatewayV2 Api (WEBSOCKET), Route, RouteResponse,
// Integration, Authorizer and Stage resources, and ignores the rest (deployments,
// domain names, permissions, logs, DNS). Values it cannot know locally (Fn::ImportValue,
// Fn::GetAtt, a parameter without a value) are errors naming the resource and property,
// unless the overrides set that field.
func ParseTemplate(tmpl, overrides []byte) (*Config, error) {
	var over Overrides
	var overRoot *yaml.Node
	if len(bytes.TrimSpace(overrides)) > 0 {
		dec := yaml.NewDecoder(bytes.NewReader(overrides))
		dec.KnownFields(true)
		if err := dec.Decode(&over); err != nil {
			return nil, fmt.Errorf("overrides: %w", err)
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(overrides, &doc); err != nil {
			return nil, fmt.Errorf("overrides: %w", err)
		}
		if len(doc.Content) == 1 {
			overRoot = doc.Content[0]
		}
	}

	var doc yaml.Node
	if err := yaml.Unmarshal(tmpl, &doc); err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	if len(doc.Content) != 1 {
		return nil, errors.New("template: empty")
	}
	budget := maxTemplateNodes
	v, err := nodeValue(doc.Content[0], &budget)
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("template: not a mapping")
	}

	c := &Config{Server: over.Server}
	c.SetDefaults() // Server.Region and AccountId are AWS::Region and AWS::AccountId
	ev, err := newEvaluator(root, over.Parameters, c.Server)
	if err != nil {
		return nil, err
	}
	b := &builder{ev: ev, cfg: &Config{Server: over.Server}, pending: map[string]pending{}}
	if err := b.build(root, over.Stage.StageName); err != nil {
		return nil, err
	}
	if len(b.errs) > 0 {
		return nil, errors.Join(b.errs...)
	}
	if overRoot != nil {
		if err := b.applyOverrides(overRoot); err != nil {
			return nil, fmt.Errorf("overrides: %w", err)
		}
	}
	if len(b.pending) > 0 {
		var errs []error
		for _, f := range sortedKeys(b.pending) {
			p := b.pending[f]
			errs = append(errs, fmt.Errorf("%s: %w; or set %s in the overrides", p.where, p.err, f))
		}
		return nil, errors.Join(errs...)
	}
	cfg := b.cfg
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, b.templateNames(err)
	}
	return cfg, nil
}

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
	// routeIDs maps a route key to the route's logical id, for error messages.
	routeIDs map[string]string
}

// resource is a template resource that exists (its Condition, if any, holds).
type resource struct {
	id    string
	props map[string]any
}

func (b *builder) build(root map[string]any, stageName string) error {
	if _, ok := root["Transform"]; ok {
		return errors.New("macros (a Transform such as AWS::Serverless) are not supported; deploy the processed template")
	}
	raw, _ := root["Resources"].(map[string]any)
	byType := map[string][]resource{}
	for _, id := range sortedKeys(raw) {
		r, ok := raw[id].(map[string]any)
		if !ok {
			return fmt.Errorf("resource %s is not a mapping", id)
		}
		if cond, ok := r["Condition"].(string); ok {
			holds, err := b.ev.condition(cond)
			if err != nil {
				return fmt.Errorf("Resources.%s.Condition: %w", id, err)
			}
			if !holds {
				continue
			}
		}
		typ, _ := r["Type"].(string)
		props, _ := r["Properties"].(map[string]any)
		byType[typ] = append(byType[typ], resource{id: id, props: props})
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
	for _, key := range sortedKeys(b.cfg.Routes) {
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
	}
	return nil
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
		switch {
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

func (b *builder) bad(r resource, p, want string) {
	b.errs = append(b.errs, fmt.Errorf("Resources.%s.Properties.%s: not %s", r.id, p, want))
}

// applyOverrides lays the overrides file's entries over the template's.
func (b *builder) applyOverrides(root *yaml.Node) error {
	for i := 0; i+1 < len(root.Content); i += 2 {
		section, n := root.Content[i].Value, root.Content[i+1]
		switch section {
		case "Parameters":
		case "Server":
			// Decoded already: it is the base the template's config was built on.
		case "Api":
			if err := b.overlay(n, &b.cfg.API, "Api."); err != nil {
				return err
			}
		case "Stage":
			if err := b.overlay(n, &b.cfg.Stage, "Stage."); err != nil {
				return err
			}
		case "Routes":
			if err := overlayEntries(b, n, section, b.cfg.Routes, "route keys", nil); err != nil {
				return err
			}
		case "Integrations":
			if err := overlayEntries(b, n, section, b.cfg.Integrations, "integrations", func(in *Integration, set []string, f string) {
				if in.IntegrationType == IntegrationMock && !slices.Contains(set, "IntegrationUri") {
					in.IntegrationURI, in.RequestParameters = "", nil
					delete(b.pending, f+"IntegrationUri")
					delete(b.pending, f+"RequestParameters")
				}
			}); err != nil {
				return err
			}
		case "Authorizers":
			if err := overlayEntries(b, n, section, b.cfg.Authorizers, "authorizers", func(a *Authorizer, set []string, f string) {
				if a.Cookie != nil && !slices.Contains(set, "AuthorizerUri") {
					a.AuthorizerURI = ""
					delete(b.pending, f+"AuthorizerUri")
				}
			}); err != nil {
				return err
			}
		}
	}
	return nil
}

// overlayEntries overlays each entry of the mapping n onto the same key of m, which must
// exist (a misspelt id would otherwise be silently unused).
func overlayEntries[V any](b *builder, n *yaml.Node, section string, m map[string]V, what string, after func(v *V, set []string, field string)) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: %s: not a mapping", n.Line, section)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		id := n.Content[i].Value
		v, ok := m[id]
		if !ok {
			return fmt.Errorf("line %d: %s.%s: the template has no such entry (its %s: %s)", n.Content[i].Line, section, id, what, strings.Join(sortedKeys(m), ", "))
		}
		f := section + "." + id + "."
		if err := b.overlay(n.Content[i+1], &v, f); err != nil {
			return err
		}
		if after != nil {
			after(&v, mappingKeys(n.Content[i+1]), f)
		}
		m[id] = v
	}
	return nil
}

// overlay replaces the fields of *dst (a struct) that the mapping n sets, and clears
// their pending errors.
func (b *builder) overlay(n *yaml.Node, dst any, field string) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: %s: not a mapping", n.Line, strings.TrimSuffix(field, "."))
	}
	dv := reflect.ValueOf(dst).Elem()
	src := reflect.New(dv.Type())
	if err := n.Decode(src.Interface()); err != nil {
		return err
	}
	for _, key := range mappingKeys(n) {
		for i := 0; i < dv.NumField(); i++ {
			tag, _, _ := strings.Cut(dv.Type().Field(i).Tag.Get("yaml"), ",")
			if tag == key {
				dv.Field(i).Set(src.Elem().Field(i))
				delete(b.pending, field+key)
			}
		}
	}
	return nil
}

func mappingKeys(n *yaml.Node) []string {
	var keys []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		keys = append(keys, n.Content[i].Value)
	}
	return keys
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

// maxTemplateNodes bounds the values a template expands to (YAML aliases can make a
// small file expand exponentially). CloudFormation's own limit is 1 MB of template.
const maxTemplateNodes = 1 << 20

// nodeValue turns YAML into plain values, with CloudFormation's short-form tags
// (!Ref, !Sub, !GetAtt, ...) as their long forms ({"Ref": x}, {"Fn::Sub": x}, ...).
// Each node expanded takes one from *budget.
func nodeValue(n *yaml.Node, budget *int) (any, error) {
	if *budget--; *budget < 0 {
		return nil, errors.New("too large (aliases expand to more than a million values)")
	}
	var v any
	switch n.Kind {
	case yaml.AliasNode:
		return nodeValue(n.Alias, budget)
	case yaml.DocumentNode:
		if len(n.Content) == 1 {
			return nodeValue(n.Content[0], budget)
		}
		return nil, nil
	case yaml.SequenceNode:
		list := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			x, err := nodeValue(c, budget)
			if err != nil {
				return nil, err
			}
			list = append(list, x)
		}
		v = list
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			x, err := nodeValue(n.Content[i+1], budget)
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = x
		}
		v = m
	case yaml.ScalarNode:
		if isIntrinsicTag(n.Tag) {
			v = n.Value
		} else if err := n.Decode(&v); err != nil {
			v = n.Value
		}
	}
	if !isIntrinsicTag(n.Tag) {
		return v, nil
	}
	name := strings.TrimPrefix(n.Tag, "!")
	switch name {
	case "Ref", "Condition":
	case "GetAtt":
		if s, ok := v.(string); ok {
			res, attr, _ := strings.Cut(s, ".")
			v = []any{res, attr}
		}
		name = "Fn::GetAtt"
	default:
		name = "Fn::" + name
	}
	return map[string]any{name: v}, nil
}

func isIntrinsicTag(tag string) bool {
	return strings.HasPrefix(tag, "!") && !strings.HasPrefix(tag, "!!")
}

// noValue is what Ref AWS::NoValue evaluates to: the property is removed.
var noValue = &struct{ name string }{"AWS::NoValue"}

// evaluator evaluates CloudFormation intrinsic functions with the values known
// locally: parameters, pseudo parameters, mappings, conditions, and Ref to a resource
// (its logical id: what API Gateway resources' ids are named locally).
type evaluator struct {
	params     map[string]any
	unset      map[string]string // parameters without a value: why
	pseudo     map[string]any
	resources  map[string]any
	mappings   map[string]any
	conditions map[string]any
	condCache  map[string]bool
	condBusy   map[string]bool
}

func newEvaluator(root map[string]any, given map[string]string, s Server) (*evaluator, error) {
	partition := "aws"
	switch {
	case strings.HasPrefix(s.Region, "cn-"):
		partition = "aws-cn"
	case strings.HasPrefix(s.Region, "us-gov-"):
		partition = "aws-us-gov"
	}
	stack := "wsgate"
	if v, ok := given["AWS::StackName"]; ok {
		stack = v
	}
	ev := &evaluator{
		params: map[string]any{},
		unset:  map[string]string{},
		pseudo: map[string]any{
			"AWS::Region": s.Region, "AWS::AccountId": s.AccountID, "AWS::Partition": partition,
			"AWS::URLSuffix": "amazonaws.com", "AWS::StackName": stack, "AWS::NotificationARNs": []any{},
			"AWS::StackId": fmt.Sprintf("arn:%s:cloudformation:%s:%s:stack/%s/local", partition, s.Region, s.AccountID, stack),
		},
		condCache: map[string]bool{},
		condBusy:  map[string]bool{},
	}
	if partition == "aws-cn" {
		ev.pseudo["AWS::URLSuffix"] = "amazonaws.com.cn"
	}
	ev.resources, _ = root["Resources"].(map[string]any)
	ev.mappings, _ = root["Mappings"].(map[string]any)
	ev.conditions, _ = root["Conditions"].(map[string]any)
	params, _ := root["Parameters"].(map[string]any)
	for _, name := range sortedKeys(given) {
		if _, ok := params[name]; !ok && name != "AWS::StackName" {
			return nil, fmt.Errorf("overrides: Parameters.%s: the template has no such parameter (its parameters: %s)", name, strings.Join(sortedKeys(params), ", "))
		}
	}
	for _, name := range sortedKeys(params) {
		if _, ok := ev.resources[name]; ok {
			return nil, fmt.Errorf("parameter %s is also a resource's logical id", name)
		}
		p, _ := params[name].(map[string]any)
		typ, _ := p["Type"].(string)
		val, ok := given[name]
		if !ok {
			d, has := p["Default"]
			if !has {
				ev.unset[name] = fmt.Sprintf("parameter %s has no value (it has no Default: give one in the overrides' Parameters)", name)
				continue
			}
			val = fmt.Sprint(d)
		} else if allowed, ok := p["AllowedValues"].([]any); ok {
			if !slices.ContainsFunc(allowed, func(a any) bool { return fmt.Sprint(a) == val }) {
				return nil, fmt.Errorf("overrides: Parameters.%s: %q is not one of the template's AllowedValues %v", name, val, allowed)
			}
		}
		switch {
		case typ == "CommaDelimitedList" || strings.HasPrefix(typ, "List<"):
			var list []any
			if val != "" {
				for s := range strings.SplitSeq(val, ",") {
					list = append(list, strings.TrimSpace(s))
				}
			}
			ev.params[name] = list
		case strings.HasPrefix(typ, "AWS::SSM::Parameter::Value<") && !ok:
			ev.unset[name] = fmt.Sprintf("parameter %s is read from SSM by CloudFormation (give it a value in the overrides' Parameters)", name)
		default:
			ev.params[name] = val
		}
	}
	return ev, nil
}

// unresolved is a value CloudFormation knows and a local gateway does not.
type unresolved struct{ what string }

func (u *unresolved) Error() string { return u.what }

func (ev *evaluator) condition(name string) (bool, error) {
	if v, ok := ev.condCache[name]; ok {
		return v, nil
	}
	raw, ok := ev.conditions[name]
	if !ok {
		return false, fmt.Errorf("condition %s is not defined", name)
	}
	if ev.condBusy[name] {
		return false, fmt.Errorf("condition %s refers to itself", name)
	}
	ev.condBusy[name] = true
	defer delete(ev.condBusy, name)
	v, err := ev.eval(raw)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	holds, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("condition %s is not a boolean", name)
	}
	ev.condCache[name] = holds
	return holds, nil
}

// eval evaluates v: strings, numbers, booleans, lists and maps, with intrinsic
// functions applied. Values not knowable locally are *unresolved errors.
func (ev *evaluator) eval(v any) (any, error) {
	switch v := v.(type) {
	case []any:
		out := make([]any, 0, len(v))
		for _, x := range v {
			y, err := ev.eval(x)
			if err != nil {
				return nil, err
			}
			if y != noValue {
				out = append(out, y)
			}
		}
		return out, nil
	case map[string]any:
		if len(v) == 1 {
			for k, arg := range v {
				if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
					return ev.fn(k, arg)
				}
			}
		}
		out := make(map[string]any, len(v))
		for k, x := range v {
			y, err := ev.eval(x)
			if err != nil {
				return nil, err
			}
			if y != noValue {
				out[k] = y
			}
		}
		return out, nil
	}
	return v, nil
}

func (ev *evaluator) ref(name string) (any, error) {
	if name == "AWS::NoValue" {
		return noValue, nil
	}
	if v, ok := ev.params[name]; ok {
		return v, nil
	}
	if why, ok := ev.unset[name]; ok {
		return nil, &unresolved{why}
	}
	if v, ok := ev.pseudo[name]; ok {
		return v, nil
	}
	if _, ok := ev.resources[name]; ok {
		return name, nil
	}
	return nil, fmt.Errorf("!Ref %s: no such parameter or resource", name)
}

func (ev *evaluator) fn(name string, arg any) (any, error) {
	args, _ := arg.([]any)
	argErr := func(want string) error { return fmt.Errorf("%s: arguments must be %s", name, want) }
	str := func(x any) (string, error) {
		y, err := ev.eval(x)
		if err != nil {
			return "", err
		}
		switch y := y.(type) {
		case string:
			return y, nil
		case int, float64, bool:
			return fmt.Sprint(y), nil
		}
		return "", fmt.Errorf("%s: %v is not a string", name, y)
	}
	list := func(x any) ([]any, error) {
		y, err := ev.eval(x)
		if err != nil {
			return nil, err
		}
		l, ok := y.([]any)
		if !ok {
			return nil, fmt.Errorf("%s: %v is not a list", name, y)
		}
		return l, nil
	}
	boolean := func(x any) (bool, error) {
		if m, ok := x.(map[string]any); ok {
			if c, ok := m["Condition"].(string); ok && len(m) == 1 {
				return ev.condition(c)
			}
		}
		y, err := ev.eval(x)
		if err != nil {
			return false, err
		}
		b, ok := y.(bool)
		if !ok {
			return false, fmt.Errorf("%s: %v is not a condition", name, y)
		}
		return b, nil
	}
	switch name {
	case "Ref":
		s, ok := arg.(string)
		if !ok {
			return nil, argErr("a name")
		}
		return ev.ref(s)
	case "Condition":
		s, ok := arg.(string)
		if !ok {
			return nil, argErr("a condition name")
		}
		return ev.condition(s)
	case "Fn::Sub":
		var tmpl string
		vars := map[string]any{}
		switch a := arg.(type) {
		case string:
			tmpl = a
		case []any:
			if len(a) != 2 {
				return nil, argErr("a string, or [string, {variables}]")
			}
			tmpl, _ = a[0].(string)
			m, ok := a[1].(map[string]any)
			if !ok {
				return nil, argErr("a string, or [string, {variables}]")
			}
			for k, x := range m {
				vars[k] = x
			}
		default:
			return nil, argErr("a string, or [string, {variables}]")
		}
		return ev.sub(tmpl, vars)
	case "Fn::Join":
		if len(args) != 2 {
			return nil, argErr("[delimiter, [values]]")
		}
		delim, ok := args[0].(string)
		if !ok {
			return nil, argErr("[delimiter, [values]]")
		}
		items, err := list(args[1])
		if err != nil {
			return nil, err
		}
		parts := make([]string, 0, len(items))
		for _, it := range items {
			s, err := str(it)
			if err != nil {
				return nil, err
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, delim), nil
	case "Fn::Select":
		if len(args) != 2 {
			return nil, argErr("[index, [values]]")
		}
		is, err := str(args[0])
		if err != nil {
			return nil, err
		}
		i, err := strconv.Atoi(is)
		if err != nil {
			return nil, argErr("[index, [values]]")
		}
		items, err := list(args[1])
		if err != nil {
			return nil, err
		}
		if i < 0 || i >= len(items) {
			return nil, fmt.Errorf("Fn::Select: index %d out of %d values", i, len(items))
		}
		return items[i], nil
	case "Fn::Split":
		if len(args) != 2 {
			return nil, argErr("[delimiter, string]")
		}
		delim, _ := args[0].(string)
		s, err := str(args[1])
		if err != nil {
			return nil, err
		}
		var out []any
		for _, p := range strings.Split(s, delim) {
			out = append(out, p)
		}
		return out, nil
	case "Fn::If":
		if len(args) != 3 {
			return nil, argErr("[condition, then, else]")
		}
		c, _ := args[0].(string)
		holds, err := ev.condition(c)
		if err != nil {
			return nil, err
		}
		if holds {
			return ev.eval(args[1])
		}
		return ev.eval(args[2])
	case "Fn::Equals":
		if len(args) != 2 {
			return nil, argErr("[a, b]")
		}
		a, err := ev.eval(args[0])
		if err != nil {
			return nil, err
		}
		b, err := ev.eval(args[1])
		if err != nil {
			return nil, err
		}
		return fmt.Sprint(a) == fmt.Sprint(b), nil
	case "Fn::Not":
		if len(args) != 1 {
			return nil, argErr("[condition]")
		}
		b, err := boolean(args[0])
		return !b, err
	case "Fn::And", "Fn::Or":
		if len(args) < 2 {
			return nil, argErr("2 to 10 conditions")
		}
		for _, a := range args {
			b, err := boolean(a)
			if err != nil {
				return nil, err
			}
			if b == (name == "Fn::Or") {
				return b, nil
			}
		}
		return name == "Fn::And", nil
	case "Fn::FindInMap":
		if len(args) < 3 {
			return nil, argErr("[map, top-level key, second-level key]")
		}
		var keys [3]string
		for i := range keys {
			s, err := str(args[i])
			if err != nil {
				return nil, err
			}
			keys[i] = s
		}
		m, _ := ev.mappings[keys[0]].(map[string]any)
		top, _ := m[keys[1]].(map[string]any)
		v, ok := top[keys[2]]
		if !ok {
			if len(args) == 4 { // AWS::LanguageExtensions DefaultValue
				if d, ok := args[3].(map[string]any); ok {
					return ev.eval(d["DefaultValue"])
				}
			}
			return nil, fmt.Errorf("Fn::FindInMap: %s.%s.%s is not in Mappings", keys[0], keys[1], keys[2])
		}
		return ev.eval(v)
	case "Fn::Base64":
		s, err := str(arg)
		if err != nil {
			return nil, err
		}
		return base64.StdEncoding.EncodeToString([]byte(s)), nil
	case "Fn::GetAtt":
		what := fmt.Sprint(arg)
		if len(args) == 2 {
			what = fmt.Sprintf("%v.%v", args[0], args[1])
		}
		return nil, &unresolved{"Fn::GetAtt " + what + " is known only to CloudFormation"}
	case "Fn::ImportValue":
		what := "a value"
		if s, err := str(arg); err == nil {
			what = strconv.Quote(s)
		}
		return nil, &unresolved{"Fn::ImportValue " + what + " is another stack's export, known only to CloudFormation"}
	}
	return nil, &unresolved{name + " is not supported locally"}
}

// sub evaluates an Fn::Sub string: ${Name} is a variable, a parameter, a pseudo
// parameter or a resource's logical id; ${Res.Attr} is an attribute (unknowable
// locally); ${!Literal} is "${Literal}".
func (ev *evaluator) sub(tmpl string, vars map[string]any) (any, error) {
	var b strings.Builder
	rest := tmpl
	for {
		i := strings.Index(rest, "${")
		if i < 0 {
			b.WriteString(rest)
			return b.String(), nil
		}
		b.WriteString(rest[:i])
		end := strings.IndexByte(rest[i:], '}')
		if end < 0 {
			b.WriteString(rest[i:])
			return b.String(), nil
		}
		name := rest[i+2 : i+end]
		rest = rest[i+end+1:]
		if lit, ok := strings.CutPrefix(name, "!"); ok {
			b.WriteString("${" + lit + "}")
			continue
		}
		var v any
		var err error
		if x, ok := vars[name]; ok {
			v, err = ev.eval(x)
		} else if res, attr, ok := strings.Cut(name, "."); ok && !strings.HasPrefix(name, "AWS::") {
			v, err = ev.fn("Fn::GetAtt", []any{res, attr})
		} else {
			v, err = ev.ref(name)
		}
		if err != nil {
			return nil, err
		}
		switch v.(type) {
		case string, int, float64, bool:
			fmt.Fprint(&b, v)
		default:
			return nil, fmt.Errorf("Fn::Sub: ${%s} is not a string", name)
		}
	}
}
