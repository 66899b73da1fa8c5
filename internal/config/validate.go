package config

import (
	"cmp"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/wsgate/wsgate/cookieauth"
	"github.com/wsgate/wsgate/internal/mgmt"
)

// Route keys with a meaning of their own.
const (
	RouteConnect    = "$connect"
	RouteDisconnect = "$disconnect"
	RouteDefault    = "$default"
)

// MaxRoutes is AWS's limit on routes per API.
const MaxRoutes = 300

// Validate reports every structural problem, each naming its field. Expressions,
// templates and identity sources are compiled, and their errors named, when the gateway
// is built from the configuration (wsgate serve --check-config does both).
func (c *Config) Validate() error {
	var errs errorList
	if !strings.HasPrefix(c.API.RouteSelectionExpression, "$request.body") &&
		!strings.HasPrefix(c.API.RouteSelectionExpression, "${request.body") &&
		c.API.RouteSelectionExpression != "\\$default" {
		errs.add("Api.RouteSelectionExpression", "%q must select from the message body ($request.body.<path>) or be \\$default", c.API.RouteSelectionExpression)
	}
	if !isStageName(c.Stage.StageName) {
		errs.add("Stage.StageName", "%q must be 1-128 letters, digits, '-' or '_'", c.Stage.StageName)
	}
	if len(c.Routes) == 0 {
		errs.add("Routes", "at least one route is required")
	}
	if len(c.Routes) > MaxRoutes {
		errs.add("Routes", "%d routes, at most %d", len(c.Routes), MaxRoutes)
	}
	for _, key := range sortedKeys(c.Routes) {
		c.validateRoute(&errs, key, c.Routes[key])
	}
	for _, id := range sortedKeys(c.Integrations) {
		validateIntegration(&errs, "Integrations."+id, c.Integrations[id], c.Stage.StageVariables)
	}
	for _, id := range sortedKeys(c.Authorizers) {
		validateAuthorizer(&errs, "Authorizers."+id, c.Authorizers[id])
	}
	c.validateModels(&errs) // request validation (models.go)
	c.Server.validate(&errs)
	c.validateAccessLog(&errs) // accesslog.go
	c.Stage.validate(&errs, c.Routes)
	c.validateAPIKeys(&errs)   // apikeys.go
	c.validateIAM(&errs)       // iam.go
	c.validateFunctions(&errs) // functions.go
	return errs.err()
}

func isStageName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func (c *Config) validateRoute(errs *errorList, key string, r Route) {
	field := "Routes." + key
	switch {
	case key == RouteConnect || key == RouteDisconnect || key == RouteDefault:
	case key == "" || strings.HasPrefix(key, "$"):
		errs.add(field, "route keys starting with $ are $connect, $disconnect and $default only")
	case len(key) > 128:
		errs.add(field, "route key longer than 128 characters")
	}
	switch r.AuthorizationType {
	case "NONE":
		if r.AuthorizerID != "" {
			errs.add(field+".AuthorizerId", "set, but AuthorizationType is NONE")
		}
	case "CUSTOM":
		if key != RouteConnect {
			errs.add(field+".AuthorizationType", "CUSTOM is only valid on $connect (its authorizer protects the whole API)")
		}
		if _, ok := c.Authorizers[r.AuthorizerID]; !ok {
			errs.add(field+".AuthorizerId", "%q is not in Authorizers", r.AuthorizerID)
		}
	case "AWS_IAM": // iam.go
		if key != RouteConnect {
			errs.add(field+".AuthorizationType", "AWS_IAM is only valid on $connect (the signature is checked once, on the handshake)")
		}
		if r.AuthorizerID != "" {
			errs.add(field+".AuthorizerId", "set, but AuthorizationType is AWS_IAM")
		}
	case "JWT":
		errs.add(field+".AuthorizationType", "JWT is not supported by WebSocket APIs (use CUSTOM)")
	default:
		errs.add(field+".AuthorizationType", "%q must be NONE, AWS_IAM or CUSTOM", r.AuthorizationType)
	}
	if r.Target != "" {
		id, ok := IntegrationID(r.Target)
		if !ok {
			errs.add(field+".Target", "%q must be integrations/{id}", r.Target)
		} else if _, ok := c.Integrations[id]; !ok {
			errs.add(field+".Target", "integration %q is not in Integrations", id)
		}
	}
	switch r.RouteResponseSelectionExpression {
	case "":
	case "$default":
		if key == RouteConnect || key == RouteDisconnect {
			errs.add(field+".RouteResponseSelectionExpression", "route responses are for message routes, not %s", key)
		}
	default:
		errs.add(field+".RouteResponseSelectionExpression", "%q: only $default is supported", r.RouteResponseSelectionExpression)
	}
}

func validateIntegration(errs *errorList, field string, in Integration, stageVars map[string]string) {
	switch in.IntegrationType {
	case IntegrationHTTP, IntegrationHTTPProxy:
		u, err := url.Parse(SubstituteStageVariables(in.IntegrationURI, stageVars))
		if in.IntegrationURI == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs.add(field+".IntegrationUri", "%q must be an http(s) URL", in.IntegrationURI)
		}
	case IntegrationAWSProxy, IntegrationAWS:
		if in.IntegrationURI == "" {
			errs.add(field+".IntegrationUri", "a Lambda function name or ARN is required")
		} else if _, err := LambdaFunction(SubstituteStageVariables(in.IntegrationURI, stageVars)); err != nil {
			errs.add(field+".IntegrationUri", "%v", err)
		}
	case IntegrationMock:
		if in.IntegrationURI != "" {
			errs.add(field+".IntegrationUri", "MOCK integrations have no URI")
		}
	default:
		errs.add(field+".IntegrationType", "%q must be AWS_PROXY, AWS, HTTP_PROXY, HTTP or MOCK", in.IntegrationType)
	}
	if in.TimeoutInMillis < 50 || in.TimeoutInMillis > 29000 {
		errs.add(field+".TimeoutInMillis", "%d must be between 50 and 29000", in.TimeoutInMillis)
	}
	if !slices.Contains([]string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"}, in.IntegrationMethod) {
		errs.add(field+".IntegrationMethod", "%q is not an HTTP method", in.IntegrationMethod)
	}
	if len(in.RequestParameters) > 0 && in.IntegrationType != IntegrationHTTP && in.IntegrationType != IntegrationHTTPProxy {
		errs.add(field+".RequestParameters", "only HTTP and HTTP_PROXY integrations take request parameters")
	}
	for _, k := range sortedKeys(in.RequestParameters) {
		if !strings.HasPrefix(k, "integration.request.header.") && !strings.HasPrefix(k, "integration.request.querystring.") && !strings.HasPrefix(k, "integration.request.path.") {
			errs.add(field+".RequestParameters."+k, "must be integration.request.header.X, integration.request.querystring.X or integration.request.path.X")
		}
	}
	if len(in.RequestTemplates) > 0 && in.IntegrationType != IntegrationHTTP && in.IntegrationType != IntegrationMock && in.IntegrationType != IntegrationAWS {
		errs.add(field+".RequestTemplates", "only HTTP, AWS and MOCK integrations take request templates (proxy integrations pass the request as is)")
	}
	validateIntegrationResponses(errs, field, in) // integration_responses.go
	if in.ResponseTemplate != "" && in.IntegrationType != IntegrationMock {
		errs.add(field+".ResponseTemplate", "only MOCK integrations have a ResponseTemplate")
	}
}

// LambdaFunction returns the function name or ARN to invoke for an AWS_PROXY
// IntegrationUri or a Lambda AuthorizerUri: a name, a function ARN, or API Gateway's
// arn:{partition}:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations.
func LambdaFunction(uri string) (string, error) {
	if rest, ok := strings.CutPrefix(uri, "arn:"); ok && strings.Contains(rest, ":apigateway:") {
		_, after, ok := strings.Cut(uri, ":lambda:path/2015-03-31/functions/")
		fn, ok2 := strings.CutSuffix(after, "/invocations")
		if !ok || !ok2 || fn == "" {
			return "", fmt.Errorf("%q is not arn:{partition}:apigateway:{region}:lambda:path/2015-03-31/functions/{function}/invocations", uri)
		}
		return fn, nil
	}
	if strings.ContainsAny(uri, " /") || strings.HasPrefix(uri, "http") {
		return "", fmt.Errorf("%q is not a Lambda function name or ARN", uri)
	}
	return uri, nil
}

func validateAuthorizer(errs *errorList, field string, a Authorizer) {
	if a.AuthorizerType != "REQUEST" {
		errs.add(field+".AuthorizerType", "%q: WebSocket APIs have REQUEST authorizers only", a.AuthorizerType)
	}
	switch {
	case a.AuthorizerURI == "" && a.Cookie == nil:
		errs.add(field, "set AuthorizerUri (a Lambda or an http(s) URL) or Cookie (the built-in cookie authorizer)")
	case a.AuthorizerURI != "" && a.Cookie != nil:
		errs.add(field, "set AuthorizerUri or Cookie, not both")
	case a.Kind() == AuthorizerLambda:
		if _, err := LambdaFunction(a.AuthorizerURI); err != nil {
			errs.add(field+".AuthorizerUri", "%v", err)
		}
	}
	if a.AuthorizerResultTTLInSeconds < 0 || a.AuthorizerResultTTLInSeconds > 3600 {
		errs.add(field+".AuthorizerResultTtlInSeconds", "%d must be between 0 and 3600", a.AuthorizerResultTTLInSeconds)
	}
	if a.Cookie == nil {
		return
	}
	cc := a.Cookie.CookieConfig()
	if err := cc.Validate(); err != nil {
		errs.add(field+".Cookie", "%v", err)
	}
	k := a.Cookie.Key
	n := 0
	for _, set := range []bool{k.HMACSecretEnv != "", k.HMACSecretFile != "", k.PublicKeyFile != "", k.JWKSURL != "", k.DevKey} {
		if set {
			n++
		}
	}
	if n != 1 {
		errs.add(field+".Cookie.Key", "set exactly one of HmacSecretEnv, HmacSecretFile, PublicKeyFile, JwksUrl, DevKey")
	}
	if a.AuthorizerResultTTLInSeconds > 0 {
		for _, need := range missingSources(a.IdentitySource, requiredSources(a.Cookie)) {
			errs.add(field+".IdentitySource", "caching is on (AuthorizerResultTtlInSeconds) but %s is not an identity source: a cached cookie authorizer lists the headers every browser handshake carries, so that a request without them is refused before the cache", need)
		}
	}
}

// requiredSources is the rule for the identity sources a cached built-in cookie
// authorizer must list (its only owner): the Cookie header, and the Origin unless
// missing origins are admitted (then it cannot be required). Nothing more: the cache
// keys on every input cookieauth decides on (cookieauth.Authorizer.CacheKey), whatever
// the identity sources, so they are not what keeps one user's result from another. The
// CSRF token in particular is not required, because it has two transports (the query
// parameter and a Sec-WebSocket-Protocol entry) and requiring one would refuse the
// other; a config that still lists the query parameter is accepted, and the guard
// counts a CSRF subprotocol entry as that source (internal/authorizer.Cookie).
func requiredSources(c *CookieAuthorizer) []string {
	need := []string{"route.request.header.Cookie"}
	if !c.CookieConfig().AllowMissingOrigin {
		need = append(need, "route.request.header.Origin")
	}
	return need
}

// missingSources returns the entries of required that have does not list. Header names
// compare case-insensitively; query names and everything else exactly.
func missingSources(have, required []string) []string {
	var missing []string
	for _, r := range required {
		if !slices.ContainsFunc(have, func(v string) bool { return sameSource(v, r) }) {
			missing = append(missing, r)
		}
	}
	return missing
}

func sameSource(a, b string) bool {
	if ah, ok := strings.CutPrefix(a, "route.request.header."); ok {
		bh, ok := strings.CutPrefix(b, "route.request.header.")
		return ok && strings.EqualFold(ah, bh)
	}
	return a == b
}

// CookieConfig converts c to the cookieauth configuration.
func (c *CookieAuthorizer) CookieConfig() cookieauth.Config {
	return cookieauth.Config{
		JWTCookie:             c.JWTCookie,
		CSRFCookie:            c.CSRFCookie,
		CSRFQueryParam:        c.CSRFQueryParam,
		CSRFSubprotocolPrefix: c.CSRFSubprotocolPrefix,
		CSRFClaim:             c.CSRFClaim,
		DisableCSRF:           c.DisableCSRF,
		Algorithms:            c.Algorithms,
		Issuer:                c.Issuer,
		Audience:              c.Audience,
		Leeway:                c.Leeway.D(),
		AllowedOrigins:        c.AllowedOrigins,
		AllowMissingOrigin:    c.AllowMissingOrigin,
		ContextClaims:         c.ContextClaims,
	}
}

// DevHMACSecret is the public development key of KeySource.DevKey: anyone can mint
// tokens for it, so a gateway using it must never face the internet.
const DevHMACSecret = "wsgate-development-key--never-use-in-production"

// Spec converts k to the cookieauth key specification; DevKey is DevHMACSecret.
func (k KeySource) Spec() cookieauth.KeySpec {
	s := cookieauth.KeySpec{
		HMACSecretEnv:  k.HMACSecretEnv,
		HMACSecretFile: k.HMACSecretFile,
		PublicKeyFile:  k.PublicKeyFile,
		JWKSURL:        k.JWKSURL,
	}
	if k.DevKey {
		s.HMACSecret = []byte(DevHMACSecret)
	}
	return s
}

func (s *Server) validate(errs *errorList) {
	for field, addr := range map[string]string{"Server.Listen": s.Listen, "Server.ManagementListen": s.ManagementListen} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			errs.add(field, "%q is not host:port", addr)
		}
	}
	if s.TLS != nil && (s.TLS.CertFile == "" || s.TLS.KeyFile == "") {
		errs.add("Server.TLS", "CertFile and KeyFile are both required")
	}
	if s.NodeID < 0 || s.NodeID > 255 {
		errs.add("Server.NodeId", "%d must be between 0 and 255", s.NodeID)
	}
	for i, c := range s.Management.Credentials {
		if c.AccessKeyID == "" || c.SecretAccessKeyEnv == "" {
			errs.add(fmt.Sprintf("Server.Management.Credentials[%d]", i), "AccessKeyId and SecretAccessKeyEnv are required")
		}
	}
	{
		m := s.Management
		lim := mgmt.Limits{ReadHeaderTimeout: m.ReadHeaderTimeout.D(), ReadTimeout: m.ReadTimeout.D(),
			WriteTimeout: m.WriteTimeout.D(), IdleTimeout: m.IdleTimeout.D(), MaxHeaderBytes: m.MaxHeaderBytes}
		if err := lim.Validate(); err != nil {
			errs.add("Server.Management", "%v", err)
		} else if cl := s.Cluster; cl != nil && cmp.Or(m.WriteTimeout.D(), mgmt.DefaultWriteTimeout) <= cl.RequestTimeout.D() {
			errs.add("Server.Management.WriteTimeout", "%v must be longer than Cluster.RequestTimeout %v",
				cmp.Or(m.WriteTimeout.D(), mgmt.DefaultWriteTimeout), cl.RequestTimeout.D())
		}
	}
	l := s.Limits
	positive := []struct {
		name string
		v    int64
	}{
		{"MaxMessageBytes", int64(l.MaxMessageBytes)}, {"MaxFrameBytes", int64(l.MaxFrameBytes)},
		{"MessageBurst", int64(l.MessageBurst)}, {"IdleTimeout", int64(l.IdleTimeout)},
		{"MaxConnectionDuration", int64(l.MaxConnectionDuration)}, {"SendQueueMessages", int64(l.SendQueueMessages)},
		{"SendQueueBytes", int64(l.SendQueueBytes)}, {"WriteTimeout", int64(l.WriteTimeout)},
		{"MaxURLBytes", int64(l.MaxURLBytes)}, {"HandshakeTimeout", int64(l.HandshakeTimeout)},
		{"ShutdownTimeout", int64(l.ShutdownTimeout)},
	}
	for _, p := range positive {
		if p.v < 0 {
			errs.add("Server.Limits."+p.name, "must not be negative")
		}
	}
	if l.ConnectRate < 0 || l.MaxConnections < 0 || l.ConnectBurst < 0 {
		errs.add("Server.Limits", "ConnectRate, ConnectBurst and MaxConnections must not be negative")
	}
	if cl := s.Cluster; cl != nil {
		switch {
		case (cl.NatsURL == "") == (cl.Embedded == nil):
			errs.add("Server.Cluster", "set exactly one of NatsUrl (an external NATS) and Embedded")
		case cl.Embedded != nil:
			e := cl.Embedded
			if _, _, err := net.SplitHostPort(e.Listen); err != nil {
				errs.add("Server.Cluster.Embedded.Listen", "%q is not host:port", e.Listen)
			}
			if len(e.Routes) > 0 && e.ClusterListen == "" {
				errs.add("Server.Cluster.Embedded.ClusterListen", "required with Routes")
			}
			if e.ClusterListen != "" {
				if _, _, err := net.SplitHostPort(e.ClusterListen); err != nil {
					errs.add("Server.Cluster.Embedded.ClusterListen", "%q is not host:port", e.ClusterListen)
				}
			}
			for i, r := range e.Routes {
				if !strings.HasPrefix(r, "nats-route://") && !strings.HasPrefix(r, "nats://") {
					errs.add(fmt.Sprintf("Server.Cluster.Embedded.Routes[%d]", i), "%q must be nats-route://host:port", r)
				}
			}
		}
		if strings.ContainsAny(cl.Subject, " *>") || cl.Subject == "" {
			errs.add("Server.Cluster.Subject", "%q must be a NATS subject without wildcards", cl.Subject)
		}
	}
	if l.MaxMessageBytes > 16<<20 {
		errs.add("Server.Limits.MaxMessageBytes", "%d is over 16 MiB", l.MaxMessageBytes)
	}
	if l.MessageRate < 0 {
		errs.add("Server.Limits.MessageRate", "must not be negative")
	}
}

func (s *Stage) validate(errs *errorList, routes map[string]Route) {
	check := func(field string, rs RouteSettings) {
		if rs.ThrottlingRateLimit < 0 || rs.ThrottlingBurstLimit < 0 {
			errs.add(field, "ThrottlingRateLimit and ThrottlingBurstLimit must not be negative")
		}
	}
	if s.DefaultRouteSettings != nil {
		check("Stage.DefaultRouteSettings", *s.DefaultRouteSettings)
	}
	for key, rs := range s.RouteSettings {
		if _, ok := routes[key]; !ok {
			errs.add("Stage.RouteSettings."+key, "no such route in Routes")
		}
		check("Stage.RouteSettings."+key, rs)
	}
}

// SubstituteStageVariables replaces each ${stageVariables.name} in s by the variable's
// value ("" when it is not set).
func SubstituteStageVariables(s string, vars map[string]string) string {
	const open = "${stageVariables."
	if !strings.Contains(s, open) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, open)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(vars[s[i+len(open):i+end]])
		s = s[i+end+1:]
	}
}
