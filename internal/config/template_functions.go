package config

// The translation of a template's Lambda functions (AWS::Serverless::Function,
// AWS::Lambda::Function, their versions and aliases) to Functions, and what the
// evaluator answers for Ref and Fn::GetAtt of them.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

const (
	samFunction    = "AWS::Serverless::Function"
	lambdaFunction = "AWS::Lambda::Function"
	lambdaVersion  = "AWS::Lambda::Version"
	lambdaAlias    = "AWS::Lambda::Alias"
)

// lambdaNames is what the evaluator knows of the template's functions: Ref to a function
// is its name, Fn::GetAtt X.Arn its ARN, Ref to a version or alias of it (and SAM's
// X.Version, X.Alias) the function's unqualified ARN, since wsgate runs one code version
// of each function.
type lambdaNames struct {
	arnPrefix string            // arn:{partition}:lambda:{region}:{account}:function:
	names     map[string]string // function logical id → function name
	versions  map[string]string // version or alias logical id → function logical id
}

func (l *lambdaNames) arn(id string) string { return l.arnPrefix + l.names[id] }

// functionRef answers Ref name for a function, version or alias.
func (ev *evaluator) functionRef(name string) (any, bool) {
	l := ev.lambda
	if l == nil {
		return nil, false
	}
	if n, ok := l.names[name]; ok {
		return n, true
	}
	if fn, ok := l.versions[name]; ok {
		return l.arn(fn), true
	}
	// SAM's AutoPublishAlias: !Ref MyFunction.Alias, !Ref MyFunction.Version.
	if id, suffix, ok := strings.Cut(name, "."); ok && (suffix == "Alias" || suffix == "Version") {
		if _, ok := l.names[id]; ok {
			return l.arn(id), true
		}
	}
	return nil, false
}

// functionAtt answers Fn::GetAtt for a function's (or a version's, an alias's) Arn.
func (ev *evaluator) functionAtt(res, attr string) (any, bool) {
	l := ev.lambda
	if l == nil || attr != "Arn" {
		return nil, false
	}
	if _, ok := l.names[res]; ok {
		return l.arn(res), true
	}
	if fn, ok := l.versions[res]; ok {
		return l.arn(fn), true
	}
	return nil, false
}

// lambdaNames names the template's functions (their FunctionName, else their logical
// id: the name CloudFormation generates cannot be known locally) and finds the function
// of each version and alias. It runs before anything else is evaluated.
func (b *builder) lambdaNames(byType map[string][]resource) {
	ps := b.ev.pseudo
	l := &lambdaNames{
		arnPrefix: fmt.Sprintf("arn:%v:lambda:%v:%v:function:", ps["AWS::Partition"], ps["AWS::Region"], ps["AWS::AccountId"]),
		names:     map[string]string{},
		versions:  map[string]string{},
	}
	for _, typ := range []string{samFunction, lambdaFunction} {
		for _, r := range byType[typ] {
			name := b.str(r, "FunctionName", "")
			if name == "" {
				name = r.id
			}
			l.names[r.id] = name
		}
	}
	b.ev.lambda = l
	byName := map[string]string{}
	for id, n := range l.names {
		byName[n], byName[l.arn(id)] = id, id
	}
	for _, typ := range []string{lambdaVersion, lambdaAlias} {
		for _, r := range byType[typ] {
			fn := b.str(r, "FunctionName", "")
			if id, ok := byName[fn]; ok {
				l.versions[r.id] = id
			} else if id, ok := byName[strings.TrimPrefix(fn, l.arnPrefix)]; ok {
				l.versions[r.id] = id
			}
		}
	}
}

// inlineCode is a function's code written in the template (Code.ZipFile, SAM's
// InlineCode), which LoadTemplate writes to CodeDir/File.
type inlineCode struct {
	dir, file, code string
}

// functionProps are the function properties wsgate reads; the others are listed as
// not emulated.
var functionProps = map[string]bool{
	"Runtime": true, "Handler": true, "CodeUri": true, "InlineCode": true, "Code": true,
	"Environment": true, "Timeout": true, "MemorySize": true, "FunctionName": true,
	"Description": true, "Tags": true, "PackageType": true, "ImageUri": true,
	"Events": true, // listed by checkTypes
}

// functions reads the template's functions into b.cfg.Functions. globals is SAM's
// Globals.Function.
func (b *builder) functions(byType map[string][]resource, globals map[string]any) {
	for _, typ := range []string{samFunction, lambdaFunction} {
		for _, r := range byType[typ] {
			if typ == samFunction && globals != nil {
				r.props = mergeGlobals(globals, r.props)
			}
			b.function(typ, r)
		}
	}
}

func (b *builder) function(typ string, r resource) {
	name := b.ev.lambda.names[r.id]
	if b.cfg.Functions == nil {
		b.cfg.Functions = map[string]Function{}
	}
	if other, dup := b.functionIDs[name]; dup {
		b.errs = append(b.errs, fmt.Errorf("Resources.%s.Properties.FunctionName: %q is also %s's", r.id, name, other))
		return
	}
	b.functionIDs[name] = r.id
	f := "Functions." + name + "."
	fn := Function{
		Runtime:    b.str(r, "Runtime", f+"Runtime"),
		Handler:    b.str(r, "Handler", f+"Handler"),
		MemorySize: b.integer(r, "MemorySize", f+"MemorySize"),
	}
	if s := b.integer(r, "Timeout", f+"Timeout"); s != 0 {
		fn.Timeout = Duration(time.Duration(s) * time.Second)
	}
	fn.Environment = b.environment(r, f)
	for _, p := range slices.Sorted(maps.Keys(r.props)) {
		if !functionProps[p] {
			b.notEmulated(typ+" "+p, r.id)
		}
	}
	if b.str(r, "PackageType", "") == "Image" {
		b.errs = append(b.errs, fmt.Errorf("Resources.%s.Properties.PackageType: Image: container image functions are not run locally (use a zip function: Runtime, Handler and its code)", r.id))
		return
	}

	// The code: CDK's asset path first (as SAM CLI reads it), then the template's own.
	if dir, ok := b.assetPath(r); ok {
		fn.CodeDir = dir
		b.cfg.Functions[name] = fn
		return
	}
	inline := ""
	switch typ {
	case samFunction:
		if _, ok := r.props["ImageUri"]; ok {
			b.errs = append(b.errs, fmt.Errorf("Resources.%s.Properties.ImageUri: container image functions are not run locally (use a zip function: Runtime, Handler and its code)", r.id))
			return
		}
		if _, ok := r.props["InlineCode"]; ok {
			inline = b.str(r, "InlineCode", f+"CodeDir")
			break
		}
		switch v := b.value(r, "CodeUri", f+"CodeDir").(type) {
		case string:
			if strings.HasPrefix(v, "s3://") {
				b.codePending(r, "CodeUri", f, "is in S3 ("+v+")")
			} else {
				fn.CodeDir = b.localPath(v)
			}
		case map[string]any: // {Bucket, Key, Version}
			b.codePending(r, "CodeUri", f, fmt.Sprintf("is in S3 (bucket %v, key %v)", v["Bucket"], v["Key"]))
		case nil:
			if _, pending := b.pending[f+"CodeDir"]; !pending {
				b.errs = append(b.errs, fmt.Errorf("Resources.%s.Properties.CodeUri: required (a directory or zip relative to the template), or InlineCode", r.id))
			}
		default:
			b.bad(r, "CodeUri", "a path or an S3 location")
		}
	case lambdaFunction:
		code, ok := b.value(r, "Code", "").(map[string]any)
		if !ok {
			if _, pending := b.pending[f+"CodeDir"]; !pending {
				b.errs = append(b.errs, fmt.Errorf("Resources.%s.Properties.Code: required (ZipFile, or S3Bucket and S3Key)", r.id))
			}
			break
		}
		switch {
		case code["ImageUri"] != nil:
			b.errs = append(b.errs, fmt.Errorf("Resources.%s.Properties.Code.ImageUri: container image functions are not run locally (use a zip function: Runtime, Handler and its code)", r.id))
			return
		case code["ZipFile"] != nil:
			s, ok := code["ZipFile"].(string)
			if !ok {
				b.bad(r, "Code.ZipFile", "a string")
			}
			inline = s
		case code["S3Bucket"] != nil || code["S3Key"] != nil:
			b.codePending(r, "Code", f, fmt.Sprintf("is in S3 (bucket %v, key %v)", code["S3Bucket"], code["S3Key"]))
		default:
			b.errs = append(b.errs, fmt.Errorf("Resources.%s.Properties.Code: set ZipFile, or S3Bucket and S3Key", r.id))
		}
	}
	if inline != "" {
		// CloudFormation writes inline code to index.js (Node.js) or index.py (Python),
		// the only runtimes that take it.
		var file string
		switch {
		case strings.HasPrefix(fn.Runtime, "nodejs"):
			file = "index.js"
		case strings.HasPrefix(fn.Runtime, "python"):
			file = "index.py"
		default:
			b.errs = append(b.errs, fmt.Errorf("Resources.%s.Properties.Runtime: %q: inline code (ZipFile, InlineCode) is for nodejs and python runtimes only", r.id, fn.Runtime))
			return
		}
		sum := sha256.Sum256([]byte(file + "\x00" + inline))
		fn.CodeDir = filepath.Join(b.inlineDir, hex.EncodeToString(sum[:12]))
		b.inline = append(b.inline, inlineCode{dir: fn.CodeDir, file: file, code: inline})
	}
	b.cfg.Functions[name] = fn
}

// codePending records that a function's code is somewhere only AWS reaches.
func (b *builder) codePending(r resource, p, f, where string) {
	b.pending[f+"CodeDir"] = pending{
		where: "Resources." + r.id + ".Properties." + p,
		err:   &unresolved{"the function's code " + where + ": give a local directory or zip"},
	}
}

// environment reads Environment.Variables; a variable whose value only AWS knows is
// pending under Functions.{name}.Environment.{variable}.
func (b *builder) environment(r resource, f string) map[string]string {
	env, ok := r.props["Environment"].(map[string]any)
	if !ok {
		if _, set := r.props["Environment"]; set {
			b.bad(r, "Environment", "a mapping with Variables")
		}
		return nil
	}
	vars, ok := env["Variables"].(map[string]any)
	if !ok {
		return nil
	}
	out := make(map[string]string, len(vars))
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		v := b.value(resource{id: r.id, props: vars}, k, f+"Environment."+k)
		switch v := v.(type) {
		case nil:
		case string:
			out[k] = v
		case int, float64, bool:
			out[k] = fmt.Sprint(v)
		default:
			b.bad(r, "Environment.Variables."+k, "a string")
		}
	}
	return out
}

// assetPath is the function's code directory from CDK's asset metadata
// (Metadata aws:asset:path, relative to the template: cdk.out/asset.{hash}).
func (b *builder) assetPath(r resource) (string, bool) {
	p, ok := r.meta["aws:asset:path"].(string)
	if !ok || p == "" {
		return "", false
	}
	if prop, ok := r.meta["aws:asset:property"].(string); ok && prop != "Code" && prop != "CodeUri" {
		return "", false
	}
	return b.localPath(p), true
}

// localPath is p relative to the template's directory.
func (b *builder) localPath(p string) string {
	if filepath.IsAbs(p) || b.dir == "" {
		return p
	}
	return filepath.Join(b.dir, p)
}

// mergeGlobals lays a SAM function's properties over Globals.Function as SAM does: a
// property only in one is taken; two mappings are merged key by key, the function's
// winning; two lists are concatenated, the global's first; otherwise the function's
// value wins.
func mergeGlobals(global, local map[string]any) map[string]any {
	out := maps.Clone(global)
	if out == nil {
		out = map[string]any{}
	}
	for k, lv := range local {
		gv, ok := out[k]
		if !ok {
			out[k] = lv
			continue
		}
		gm, gok := gv.(map[string]any)
		lm, lok := lv.(map[string]any)
		gl, glok := gv.([]any)
		ll, llok := lv.([]any)
		switch {
		case gok && lok && !isIntrinsic(gm) && !isIntrinsic(lm):
			out[k] = mergeGlobals(gm, lm)
		case glok && llok:
			out[k] = append(slices.Clone(gl), ll...)
		default:
			out[k] = lv
		}
	}
	return out
}

func isIntrinsic(m map[string]any) bool {
	if len(m) != 1 {
		return false
	}
	for k := range m {
		return k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::")
	}
	return false
}

// notEmulated records a resource (or a resource's property, what is "Type Property")
// the template has and wsgate does not emulate.
func (b *builder) notEmulated(what, id string) {
	if b.report.NotEmulated == nil {
		b.report.NotEmulated = map[string][]string{}
	}
	if !slices.Contains(b.report.NotEmulated[what], id) {
		b.report.NotEmulated[what] = append(b.report.NotEmulated[what], id)
		slices.Sort(b.report.NotEmulated[what])
	}
}

// FunctionsSummary describes each local function in a line, sorted by name: its
// runtime, handler, code directory and the routes and authorizers that invoke it.
func FunctionsSummary(c *Config) []string {
	uses := map[string][]string{}
	local := func(uri string) (string, bool) {
		fn, err := LambdaFunction(uri)
		if err != nil {
			return "", false
		}
		if _, ok := c.Functions[fn]; ok {
			return fn, true
		}
		if i := strings.Index(fn, ":function:"); i >= 0 {
			name, _, _ := strings.Cut(fn[i+len(":function:"):], ":") // a qualifier
			if _, ok := c.Functions[name]; ok {
				return name, true
			}
		}
		return "", false
	}
	for _, key := range slices.Sorted(maps.Keys(c.Routes)) {
		rt := c.Routes[key]
		if id, ok := IntegrationID(rt.Target); ok {
			in := c.Integrations[id]
			if in.IntegrationType == IntegrationAWSProxy {
				if fn, ok := local(in.IntegrationURI); ok {
					uses[fn] = append(uses[fn], "route "+key)
				}
			}
		}
		if a, ok := c.Authorizers[rt.AuthorizerID]; ok && rt.AuthorizerID != "" && a.Cookie == nil {
			if fn, ok := local(a.AuthorizerURI); ok {
				uses[fn] = append(uses[fn], "authorizer "+rt.AuthorizerID+" of "+key)
			}
		}
	}
	var out []string
	for _, name := range slices.Sorted(maps.Keys(c.Functions)) {
		f := c.Functions[name]
		serves := strings.Join(uses[name], ", ")
		if serves == "" {
			serves = "no route"
		}
		handler := f.Handler
		if strings.HasPrefix(f.Runtime, "provided") {
			handler = "bootstrap"
		}
		out = append(out, fmt.Sprintf("%s: %s %s in %s; serves %s", name, f.Runtime, handler, f.CodeDir, serves))
	}
	return out
}

// overlayFunctions lays the overrides' Functions entries over the template's: the fields
// an entry sets replace the template's, except Environment, whose variables are added to
// the template's (a local endpoint such as AWS_ENDPOINT_URL_DYNAMODB next to TABLE_NAME).
// A relative CodeDir is relative to the overrides file.
func (b *builder) overlayFunctions(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: Functions: not a mapping", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		name, entry := n.Content[i].Value, n.Content[i+1]
		fn, ok := b.cfg.Functions[name]
		if !ok {
			return fmt.Errorf("line %d: Functions.%s: the template has no such function (its functions: %s)", n.Content[i].Line, name, strings.Join(slices.Sorted(maps.Keys(b.cfg.Functions)), ", "))
		}
		env := fn.Environment
		f := "Functions." + name + "."
		if err := b.overlay(entry, &fn, f); err != nil {
			return err
		}
		set := mappingKeys(entry)
		if slices.Contains(set, "Environment") {
			merged := maps.Clone(env)
			if merged == nil {
				merged = map[string]string{}
			}
			for k, v := range fn.Environment {
				merged[k] = v
				delete(b.pending, f+"Environment."+k)
			}
			fn.Environment = merged
		}
		if slices.Contains(set, "CodeDir") && fn.CodeDir != "" && !filepath.IsAbs(fn.CodeDir) && b.overDir != "" {
			fn.CodeDir = filepath.Join(b.overDir, fn.CodeDir)
		}
		b.cfg.Functions[name] = fn
	}
	return nil
}
