// Package config is wsgate's configuration: one YAML file whose names are API Gateway's
// (RouteSelectionExpression, Routes by RouteKey, Integrations with IntegrationType and
// IntegrationUri, Authorizers with IdentitySource, ...), plus a Server section for what
// only a self-hosted gateway has (listeners, TLS, limits, the built-in cookie authorizer's
// keys). A CloudFormation template maps onto the same model.
//
// Every field's comment states its zero-value default. [Load] reads and validates a file
// (unknown fields are errors, with their line); [Config.Validate] names the field of the
// first problems it finds.
package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wsgate/wsgate/internal/cluster"
)

// Default is the embedded configuration `wsgate serve` runs without --config: the
// built-in cookie authorizer on $connect with a dev key, and MOCK integrations that echo.
//
//go:embed default.yaml
var Default []byte

// Config is a whole gateway: one WebSocket API, one stage, and the server that runs it.
type Config struct {
	// API is the WebSocket API (AWS::ApiGatewayV2::Api).
	API API `yaml:"Api"`
	// Stage is the deployed stage (AWS::ApiGatewayV2::Stage).
	Stage Stage `yaml:"Stage"`
	// Routes maps a route key ($connect, $disconnect, $default, or a custom key) to its
	// route (AWS::ApiGatewayV2::Route). At least one route is required.
	Routes map[string]Route `yaml:"Routes"`
	// Integrations maps an integration id (the {id} of a route's Target
	// "integrations/{id}") to its integration.
	Integrations map[string]Integration `yaml:"Integrations"`
	// Authorizers maps an authorizer id (a route's AuthorizerId) to its authorizer.
	Authorizers map[string]Authorizer `yaml:"Authorizers"`
	// --- request validation (models.go) ---
	// Models maps a model name (AWS::ApiGatewayV2::Model Name) to its model, which a
	// route's RequestModels name. Default none: no message is validated.
	Models map[string]Model `yaml:"Models"`
	// --- end request validation ---
	// --- local Lambda functions (functions.go, docs/lambda.md) ---
	// Functions maps a Lambda function name to a function wsgate runs itself, as
	// processes speaking the Lambda Runtime API. An AWS_PROXY integration's
	// IntegrationUri or a Lambda authorizer's AuthorizerUri that names one (by name or
	// ARN) is invoked locally instead of through Server.Lambda. Filled from
	// AWS::Serverless::Function and AWS::Lambda::Function by serve --template.
	// Default none.
	Functions map[string]Function `yaml:"Functions"`
	// --- end local Lambda functions ---
	// Server holds what only a self-hosted gateway has.
	Server Server `yaml:"Server"`
}

// API is the WebSocket API.
type API struct {
	// Name is the API's name, for logs. Default "wsgate".
	Name string `yaml:"Name"`
	// APIID is $context.apiId and part of the authorizer's methodArn. Default "local".
	APIID string `yaml:"ApiId"`
	// RouteSelectionExpression selects a message's route, e.g. "$request.body.action".
	// Default "$request.body.action".
	RouteSelectionExpression string `yaml:"RouteSelectionExpression"`

	// --- API keys (docs/gateway.md "API keys") ---

	// APIKeySelectionExpression says where a $connect with ApiKeyRequired finds its API
	// key: "$request.header.x-api-key" or "$context.authorizer.usageIdentifierKey" (the
	// REQUEST authorizer's usageIdentifierKey). Default "": $request.header.x-api-key.
	APIKeySelectionExpression string `yaml:"ApiKeySelectionExpression"`
}

// Stage is the deployed stage.
type Stage struct {
	// StageName is $context.stage, the @connections path prefix and part of the
	// methodArn. Default "dev".
	StageName string `yaml:"StageName"`
	// StageVariables are $stageVariables in templates and stageVariables.X in request
	// parameters and identity sources. Default none.
	StageVariables map[string]string `yaml:"StageVariables"`
	// DefaultRouteSettings throttle every route of the stage. Default: no throttling.
	DefaultRouteSettings *RouteSettings `yaml:"DefaultRouteSettings"`
	// RouteSettings override DefaultRouteSettings per route key. Default none.
	RouteSettings map[string]RouteSettings `yaml:"RouteSettings"`

	// --- access log (accesslog.go) ---

	// AccessLogSettings, when set, writes one access log line per event (CONNECT
	// accepted or refused, each MESSAGE, DISCONNECT) to Server.AccessLog. Default nil:
	// no access log.
	AccessLogSettings *AccessLogSettings `yaml:"AccessLogSettings"`
}

// RouteSettings are a stage's settings for a route (AWS::ApiGatewayV2::Stage
// RouteSettings). Throttling is a token bucket shared by every connection of the
// node: a $connect over it is refused with 429, a message over it is answered with a
// "Too Many Requests" status frame and not routed. The logging and metrics settings
// are accepted for templates' sake and have no effect.
type RouteSettings struct {
	// ThrottlingRateLimit is the steady rate, requests per second. Default 0: this
	// setting does not throttle (a route's own 0 falls back to DefaultRouteSettings).
	ThrottlingRateLimit float64 `yaml:"ThrottlingRateLimit"`
	// ThrottlingBurstLimit is the bucket size. Default: ThrottlingRateLimit rounded up.
	ThrottlingBurstLimit int `yaml:"ThrottlingBurstLimit"`
	// DataTraceEnabled, DetailedMetricsEnabled and LoggingLevel are AWS's; ignored.
	DataTraceEnabled       bool   `yaml:"DataTraceEnabled"`
	DetailedMetricsEnabled bool   `yaml:"DetailedMetricsEnabled"`
	LoggingLevel           string `yaml:"LoggingLevel"`
}

// Throttling returns the rate and burst that apply to routeKey: its RouteSettings if
// they set a rate, else DefaultRouteSettings; rate 0 means no throttling.
func (s Stage) Throttling(routeKey string) (rate float64, burst int) {
	rs, ok := s.RouteSettings[routeKey]
	if (!ok || rs.ThrottlingRateLimit == 0) && s.DefaultRouteSettings != nil {
		rs = *s.DefaultRouteSettings
	}
	if rs.ThrottlingRateLimit <= 0 {
		return 0, 0
	}
	burst = rs.ThrottlingBurstLimit
	if burst <= 0 {
		burst = int(rs.ThrottlingRateLimit + 0.999999)
	}
	return rs.ThrottlingRateLimit, burst
}

// Route is one route.
type Route struct {
	// AuthorizationType is NONE, AWS_IAM (a SigV4-signed handshake, keys in Server.Iam)
	// or CUSTOM; AWS_IAM and CUSTOM are valid on $connect only. Default NONE.
	AuthorizationType string `yaml:"AuthorizationType"`
	// AuthorizerID names the authorizer when AuthorizationType is CUSTOM.
	AuthorizerID string `yaml:"AuthorizerId"`
	// Target is "integrations/{id}". Default none: $connect and $disconnect succeed
	// without a backend; a message route without a target answers Internal server error.
	Target string `yaml:"Target"`
	// RouteResponseSelectionExpression "$default" makes the route two-way: the
	// integration's response body is sent to the client. Default "": one-way.
	RouteResponseSelectionExpression string `yaml:"RouteResponseSelectionExpression"`
	// --- request validation (models.go) ---
	// RequestModels maps a model selection key to a model name (a key of Models); "$default"
	// is the fallback. Message routes only. Default none: the route does not validate.
	RequestModels map[string]string `yaml:"RequestModels"`
	// ModelSelectionExpression selects the RequestModels key: "$request.body.<path>" or a
	// constant such as "\$default". Required with RequestModels. Default "".
	ModelSelectionExpression string `yaml:"ModelSelectionExpression"`
	// --- end request validation ---

	// --- API keys (docs/gateway.md "API keys") ---

	// APIKeyRequired refuses a $connect without a key from Server.ApiKeys with 403.
	// $connect only. Default false: no key is asked for.
	APIKeyRequired bool `yaml:"ApiKeyRequired"`
}

// Integration types.
const (
	IntegrationAWSProxy  = "AWS_PROXY"
	IntegrationAWS       = "AWS" // Lambda custom (non-proxy) integration
	IntegrationHTTPProxy = "HTTP_PROXY"
	IntegrationHTTP      = "HTTP"
	IntegrationMock      = "MOCK"
)

// Integration is one backend.
type Integration struct {
	// IntegrationType is AWS_PROXY (Lambda proxy), AWS (Lambda custom: the function
	// receives the rendered request template and its result is the integration
	// response), HTTP_PROXY, HTTP or MOCK. Required.
	IntegrationType string `yaml:"IntegrationType"`
	// IntegrationURI is the backend: an http(s) URL for HTTP and HTTP_PROXY; for
	// AWS_PROXY and AWS a Lambda function name or ARN, or API Gateway's
	// arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations.
	// Stage variables (${stageVariables.x}) are substituted. Empty for MOCK.
	IntegrationURI string `yaml:"IntegrationUri"`
	// IntegrationMethod is the HTTP method. Default POST.
	IntegrationMethod string `yaml:"IntegrationMethod"`
	// RequestParameters maps integration.request.header.X / querystring.X / path.X to a
	// source: route.request.header.X, route.request.querystring.X,
	// route.request.multivalueheader.X or route.request.multivaluequerystring.X (values
	// joined with a comma) ($connect only), route.request.body.<path>, stageVariables.X,
	// context.X, or 'static'. HTTP only. Default none.
	RequestParameters map[string]string `yaml:"RequestParameters"`
	// RequestTemplates maps a template key to a VTL template (docs/templates.md). HTTP,
	// AWS and MOCK. The key is chosen by TemplateSelectionExpression, falling back to
	// "$default".
	RequestTemplates map[string]string `yaml:"RequestTemplates"`
	// TemplateSelectionExpression selects the template key, e.g. "\$default" or
	// "$request.body.action". Default: "$default".
	TemplateSelectionExpression string `yaml:"TemplateSelectionExpression"`
	// TimeoutInMillis is the integration's timeout, 50 to 29000. Default 29000.
	TimeoutInMillis int `yaml:"TimeoutInMillis"`
	// ResponseTemplate (wsgate, MOCK only) is the VTL template of the mock's response
	// body, rendered on the request ($input is the message); IntegrationResponses, if
	// any, then transform it. Default: empty body.
	ResponseTemplate string `yaml:"ResponseTemplate"`
	// IntegrationResponses (HTTP, AWS and MOCK) maps an IntegrationResponseKey —
	// "$default" or a regular expression between slashes such as "/4\d\d/" — to how
	// the backend's answer is transformed before a two-way route sends it
	// (integration_responses.go). Default none: the backend's body is sent as is.
	IntegrationResponses map[string]IntegrationResponse `yaml:"IntegrationResponses,omitempty"`
	// IntegrationResponseSelectionExpression is fixed by AWS for each type:
	// "$integration.response.statuscode" for HTTP and MOCK,
	// "$integration.response.body.errorMessage" for AWS; any other value is refused.
	// Default: that value.
	IntegrationResponseSelectionExpression string `yaml:"IntegrationResponseSelectionExpression,omitempty"`
}

// Authorizer is a REQUEST authorizer. Exactly one of AuthorizerURI and Cookie is set.
type Authorizer struct {
	// AuthorizerType is REQUEST, the only type WebSocket APIs have. Default REQUEST.
	AuthorizerType string `yaml:"AuthorizerType"`
	// AuthorizerURI is a Lambda authorizer (a function name or ARN, or API Gateway's
	// arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations)
	// or, as a wsgate extension, an http(s) URL that receives the event JSON.
	AuthorizerURI string `yaml:"AuthorizerUri"`
	// IdentitySource lists route.request.header.X, route.request.querystring.X,
	// stageVariables.X and context.X. A missing or empty one refuses the handshake with
	// 401 without calling the authorizer. Default none.
	IdentitySource []string `yaml:"IdentitySource"`
	// AuthorizerResultTTLInSeconds caches results for this long, keyed by every
	// identity source value (the cookie authorizer: by every input it decides on), a
	// wsgate extension for WebSocket APIs, 0 to 3600. Default 0: no caching.
	AuthorizerResultTTLInSeconds int `yaml:"AuthorizerResultTtlInSeconds"`
	// Cookie is the built-in cookie authorizer (wsgate extension).
	Cookie *CookieAuthorizer `yaml:"Cookie"`
}

// AuthorizerKind says which implementation runs an [Authorizer].
type AuthorizerKind int

// The kinds of authorizer.
const (
	// AuthorizerLambda invokes the Lambda function AuthorizerURI names.
	AuthorizerLambda AuthorizerKind = iota
	// AuthorizerHTTP POSTs the event to AuthorizerURI, an http(s) URL.
	AuthorizerHTTP
	// AuthorizerCookie is the built-in cookie authorizer.
	AuthorizerCookie
)

// Kind says which implementation runs a: AuthorizerCookie when Cookie is set,
// AuthorizerHTTP when AuthorizerURI starts with http:// or https://, else
// AuthorizerLambda. It is the one place that tells an HTTP authorizer from a Lambda.
func (a Authorizer) Kind() AuthorizerKind {
	switch {
	case a.Cookie != nil:
		return AuthorizerCookie
	case strings.HasPrefix(a.AuthorizerURI, "http://") || strings.HasPrefix(a.AuthorizerURI, "https://"):
		return AuthorizerHTTP
	default:
		return AuthorizerLambda
	}
}

// CookieAuthorizer configures the built-in cookie authorizer (package cookieauth).
type CookieAuthorizer struct {
	// JWTCookie is the JWT cookie's name. Default "JWT".
	JWTCookie string `yaml:"JwtCookie"`
	// CSRFCookie is the double-submit cookie's name. Default "CSRF-TOKEN".
	CSRFCookie string `yaml:"CsrfCookie"`
	// CSRFQueryParam is the query parameter carrying the CSRF token. Default "csrf".
	CSRFQueryParam string `yaml:"CsrfQueryParam"`
	// CSRFSubprotocolPrefix marks a Sec-WebSocket-Protocol entry carrying the CSRF
	// token. Default "csrf.".
	CSRFSubprotocolPrefix string `yaml:"CsrfSubprotocolPrefix"`
	// CSRFClaim names the JWT claim that must equal the CSRF token. Default none.
	CSRFClaim string `yaml:"CsrfClaim"`
	// DisableCSRF turns the CSRF check off. Default false.
	DisableCSRF bool `yaml:"DisableCsrf"`
	// Algorithms is the JWT algorithm allowlist. Required.
	Algorithms []string `yaml:"Algorithms"`
	// Issuer must equal iss when set. Default: not checked.
	Issuer string `yaml:"Issuer"`
	// Audience must be among aud when set. Default: not checked.
	Audience string `yaml:"Audience"`
	// Leeway is the clock skew tolerated, e.g. "30s". Default 0.
	Leeway Duration `yaml:"Leeway"`
	// AllowedOrigins are exact origins or https://*.example.com patterns. Default none:
	// every Origin is refused.
	AllowedOrigins []string `yaml:"AllowedOrigins"`
	// AllowMissingOrigin admits handshakes without Origin. Default false.
	AllowMissingOrigin bool `yaml:"AllowMissingOrigin"`
	// ContextClaims are claims copied to $context.authorizer. Default none.
	ContextClaims []string `yaml:"ContextClaims"`
	// Key is where the verification key comes from. Required.
	Key KeySource `yaml:"Key"`
}

// KeySource names exactly one source of JWT verification keys. Secrets never appear in
// the file itself: they come from an environment variable or a file.
type KeySource struct {
	// HMACSecretEnv names an environment variable holding the HMAC secret.
	HMACSecretEnv string `yaml:"HmacSecretEnv"`
	// HMACSecretFile is a file holding the HMAC secret.
	HMACSecretFile string `yaml:"HmacSecretFile"`
	// PublicKeyFile is a PEM public key (RSA, EC or Ed25519).
	PublicKeyFile string `yaml:"PublicKeyFile"`
	// JWKSURL is a JWKS endpoint (https, or http on loopback).
	JWKSURL string `yaml:"JwksUrl"`
	// DevKey uses the embedded development HMAC key (wsgate dev/demo). Never in
	// production: serve logs a warning.
	DevKey bool `yaml:"DevKey"`
}

// Server is what only a self-hosted gateway has.
type Server struct {
	// Listen is the WebSocket listener's address. Default "127.0.0.1:8080".
	Listen string `yaml:"Listen"`
	// ManagementListen is the @connections API's listener, which also serves /healthz,
	// /readyz and /metrics. Default "127.0.0.1:8081".
	ManagementListen string `yaml:"ManagementListen"`
	// TLS, when set, serves the WebSocket listener over TLS. Default: plain TCP.
	TLS *TLS `yaml:"TLS"`
	// DomainName is $context.domainName. Default: the handshake's Host header.
	DomainName string `yaml:"DomainName"`
	// Region is the region in methodArn and the SigV4 region expected on @connections.
	// Default "us-east-1".
	Region string `yaml:"Region"`
	// AccountID is the account in methodArn. Default "000000000000".
	AccountID string `yaml:"AccountId"`
	// NodeID distinguishes gateway nodes in connection ids, 0 to 255. Default 0.
	NodeID int `yaml:"NodeId"`
	// Lambda configures the client that invokes Lambda authorizers and AWS_PROXY
	// integrations. Default: the AWS SDK's default configuration.
	Lambda LambdaClient `yaml:"Lambda"`
	// Management configures @connections authentication.
	Management Management `yaml:"Management"`
	// Limits are the connection limits.
	Limits Limits `yaml:"Limits"`
	// Cluster, when set, makes this gateway one node of several sharing the API
	// through NATS (docs/cluster.md). Default: a single node, connections in memory.
	Cluster *Cluster `yaml:"Cluster"`

	// --- API keys (docs/gateway.md "API keys") ---

	// APIKeys are the keys a route with ApiKeyRequired accepts (AWS::ApiGateway::ApiKey).
	// Default none (an error when $connect has ApiKeyRequired).
	APIKeys []APIKey `yaml:"ApiKeys"`

	// --- AWS_IAM (iam.go) ---

	// IAM holds the access keys a $connect with AuthorizationType AWS_IAM accepts.
	// Default none.
	IAM IAM `yaml:"Iam"`

	// --- access log (accesslog.go) ---

	// AccessLog is where Stage.AccessLogSettings' lines go. Default: standard output.
	AccessLog AccessLog `yaml:"AccessLog"`
}

// Cluster connects gateway nodes through NATS: any node answers @connections for any
// connection by asking its owner (the node id is part of the connection id). Each node
// needs a distinct Server.NodeId.
type Cluster struct {
	// NatsURL is an external NATS server or cluster (comma-separated URLs). Exactly one
	// of NatsURL and Embedded is set.
	NatsURL string `yaml:"NatsUrl"`
	// CredentialsFile is a NATS .creds file for NatsURL. Default: none.
	CredentialsFile string `yaml:"CredentialsFile"`
	// CAFile verifies the NATS server's TLS certificate (tls:// URLs). Default: system roots.
	CAFile string `yaml:"CaFile"`
	// Embedded runs a NATS server inside this node that clusters with its peers.
	Embedded *EmbeddedNATS `yaml:"Embedded"`
	// Subject prefixes this API's NATS subjects. Default "wsgate.{ApiId}.{StageName}".
	Subject string `yaml:"Subject"`
	// RequestTimeout bounds an operation routed to another node; an owner that does
	// not answer in time is gone (410). Default 2s.
	RequestTimeout Duration `yaml:"RequestTimeout"`
}

// EmbeddedNATS is a NATS server run inside the gateway process.
type EmbeddedNATS struct {
	// Listen is the NATS client address. Default "127.0.0.1:4222".
	Listen string `yaml:"Listen"`
	// ClusterName names the NATS cluster. Default "wsgate".
	ClusterName string `yaml:"ClusterName"`
	// ClusterListen is where peers' routes connect, host:port. Required with Routes.
	ClusterListen string `yaml:"ClusterListen"`
	// Routes are the peers, nats-route://host:port. Default none (a single server).
	Routes []string `yaml:"Routes"`
}

// TLS is a certificate and key in PEM files.
type TLS struct {
	// CertFile is the certificate chain. Required.
	CertFile string `yaml:"CertFile"`
	// KeyFile is the private key. Required.
	KeyFile string `yaml:"KeyFile"`
}

// LambdaClient configures Lambda invocation.
type LambdaClient struct {
	// Endpoint overrides the Lambda endpoint (a local emulator). Default: the region's.
	Endpoint string `yaml:"Endpoint"`
	// Region of the Lambda functions. Default: Server.Region.
	Region string `yaml:"Region"`
}

// Management configures the @connections API's authentication.
type Management struct {
	// Credentials are the SigV4 keys accepted. Default none.
	Credentials []Credential `yaml:"Credentials"`
	// AllowUnsigned accepts unsigned requests (development only). Default false:
	// without credentials every request is refused.
	AllowUnsigned bool `yaml:"AllowUnsigned"`
	// DisableOnWebSocketListener stops serving @connections on Server.Listen. Default
	// false: as on AWS, where a backend builds the endpoint from the event's
	// requestContext.domainName and stage, it is served there too (non-upgrade
	// requests to /{stage}/@connections/{id} and /@connections/{id}, over TLS when
	// Server.TLS is set), with SigV4 required even when AllowUnsigned is true, and so
	// only when Credentials are set. ManagementListen serves it regardless.
	DisableOnWebSocketListener bool `yaml:"DisableOnWebSocketListener,omitempty"`

	// The management listener's limits on one client (slow requests, idle keep-alives).
	// ReadHeaderTimeout is how long the request line and headers may take; a slower
	// client is disconnected. Default 0: 5s.
	ReadHeaderTimeout Duration `yaml:"ReadHeaderTimeout"`
	// ReadTimeout is how long a whole request, body included, may take; a body still
	// arriving then gets 400. Default 0: 10s.
	ReadTimeout Duration `yaml:"ReadTimeout"`
	// WriteTimeout bounds reading the body, the operation and the answer, from the end
	// of the headers; it must be longer than ReadTimeout and than Cluster.RequestTimeout.
	// Default 0: 15s.
	WriteTimeout Duration `yaml:"WriteTimeout"`
	// IdleTimeout closes a keep-alive connection idle this long. Default 0: 60s.
	IdleTimeout Duration `yaml:"IdleTimeout"`
	// MaxHeaderBytes bounds the request line and headers; larger gets 431.
	// Default 0: 32768.
	MaxHeaderBytes int `yaml:"MaxHeaderBytes"`
}

// Credential is an access key whose secret comes from the environment.
type Credential struct {
	// AccessKeyID is the access key id. Required.
	AccessKeyID string `yaml:"AccessKeyId"`
	// SecretAccessKeyEnv names the environment variable holding the secret. Required.
	SecretAccessKeyEnv string `yaml:"SecretAccessKeyEnv"`
}

// Limits bound what a client can make the gateway hold.
type Limits struct {
	// MaxMessageBytes is the largest client message; larger closes with 1009, and
	// @connections POSTs larger are refused with 413. Default 131072 (AWS: 128 KB).
	MaxMessageBytes int `yaml:"MaxMessageBytes"`
	// MaxFrameBytes is the largest client frame; larger closes with 1009 (a message
	// over it must be sent in several frames). Default 32768 (AWS: 32 KB).
	MaxFrameBytes int `yaml:"MaxFrameBytes"`
	// MessageRate is the messages per second one connection may send, a wsgate
	// extension (AWS throttles per route, for all clients together: RouteSettings);
	// a message over it gets a "Too Many Requests" status frame and is not routed.
	// Default 0: unlimited.
	MessageRate float64 `yaml:"MessageRate"`
	// MessageBurst is the burst of MessageRate. Default: MessageRate rounded up.
	MessageBurst int `yaml:"MessageBurst"`
	// IdleTimeout closes a connection without client frames for this long (1001).
	// Default 10m (AWS).
	IdleTimeout Duration `yaml:"IdleTimeout"`
	// MaxConnectionDuration closes a connection this long after it opened (1001).
	// Default 2h (AWS).
	MaxConnectionDuration Duration `yaml:"MaxConnectionDuration"`
	// AllowBinaryFrames routes binary messages (base64, isBase64Encoded) instead of
	// closing with 1003. Default false.
	AllowBinaryFrames bool `yaml:"AllowBinaryFrames"`
	// SendQueueMessages bounds the messages queued for one client; a POST beyond it
	// gets 429. Default 256.
	SendQueueMessages int `yaml:"SendQueueMessages"`
	// SendQueueBytes bounds the bytes queued for one client; a POST beyond it gets
	// 429. Default 1 MiB.
	SendQueueBytes int `yaml:"SendQueueBytes"`
	// WriteTimeout closes a client that does not read a queued message for this long
	// (a slow reader). Default 10s.
	WriteTimeout Duration `yaml:"WriteTimeout"`
	// ConnectRate is the new connections admitted per second (429 beyond). Default 0:
	// unlimited.
	ConnectRate float64 `yaml:"ConnectRate"`
	// ConnectBurst is the burst of ConnectRate. Default: ConnectRate rounded up.
	ConnectBurst int `yaml:"ConnectBurst"`
	// MaxConnections bounds open connections on this node (429 beyond). Default 0:
	// unlimited.
	MaxConnections int `yaml:"MaxConnections"`
	// MaxURLBytes bounds the handshake's request URI (414 beyond). Default 4096 (AWS).
	MaxURLBytes int `yaml:"MaxURLBytes"`
	// HandshakeTimeout bounds reading the handshake request (slowloris). Default 10s.
	HandshakeTimeout Duration `yaml:"HandshakeTimeout"`
	// CloseOnCredentialExpiry closes a connection with 1008 when the credential it was
	// admitted with expires (the authorizer's exp), a wsgate extension. Default false
	// (AWS keeps it open up to MaxConnectionDuration).
	CloseOnCredentialExpiry bool `yaml:"CloseOnCredentialExpiry"`
	// ShutdownTimeout bounds graceful shutdown ($disconnect calls). Default 30s.
	ShutdownTimeout Duration `yaml:"ShutdownTimeout"`
}

// Duration is a time.Duration written as "10m", "2h", "500ms" in YAML.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration like \"10m\" or \"500ms\"", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Parse decodes YAML strictly (unknown fields are errors), applies defaults and
// validates.
func Parse(b []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Load reads, parses and validates the file at path.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.ResolveCodeDirs(filepath.Dir(path)) // functions.go
	return c, nil
}

// SetDefaults fills the zero fields that have defaults.
func (c *Config) SetDefaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	defInt := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	defDur := func(p *Duration, v time.Duration) {
		if *p == 0 {
			*p = Duration(v)
		}
	}
	def(&c.API.Name, "wsgate")
	def(&c.API.APIID, "local")
	def(&c.API.RouteSelectionExpression, "$request.body.action")
	def(&c.Stage.StageName, "dev")
	for id, in := range c.Integrations {
		def(&in.IntegrationMethod, "POST")
		def(&in.TemplateSelectionExpression, "$default")
		defInt(&in.TimeoutInMillis, 29000)
		c.Integrations[id] = in
	}
	for id, a := range c.Authorizers {
		def(&a.AuthorizerType, "REQUEST")
		c.Authorizers[id] = a
	}
	for k, r := range c.Routes {
		def(&r.AuthorizationType, "NONE")
		c.Routes[k] = r
	}
	s := &c.Server
	def(&s.Listen, "127.0.0.1:8080")
	def(&s.ManagementListen, "127.0.0.1:8081")
	def(&s.Region, "us-east-1")
	def(&s.AccountID, "000000000000")
	def(&s.Lambda.Region, s.Region)
	l := &s.Limits
	defInt(&l.MaxMessageBytes, cluster.DefaultMaxPayload)
	defInt(&l.MaxFrameBytes, 32<<10)
	defDur(&l.IdleTimeout, 10*time.Minute)
	defDur(&l.MaxConnectionDuration, 2*time.Hour)
	defInt(&l.SendQueueMessages, 256)
	defInt(&l.SendQueueBytes, 1<<20)
	defDur(&l.WriteTimeout, 10*time.Second)
	defInt(&l.MaxURLBytes, 4096)
	defDur(&l.HandshakeTimeout, 10*time.Second)
	defDur(&l.ShutdownTimeout, 30*time.Second)
	if cl := s.Cluster; cl != nil {
		def(&cl.Subject, "wsgate."+c.API.APIID+"."+c.Stage.StageName)
		defDur(&cl.RequestTimeout, 2*time.Second)
		if e := cl.Embedded; e != nil {
			def(&e.Listen, "127.0.0.1:4222")
			def(&e.ClusterName, "wsgate")
		}
	}
	c.setFunctionDefaults() // functions.go
	if l.ConnectRate > 0 && l.ConnectBurst == 0 {
		l.ConnectBurst = int(l.ConnectRate + 0.999)
	}
}

// IntegrationID returns the integration id of a Target "integrations/{id}".
func IntegrationID(target string) (string, bool) {
	id, ok := strings.CutPrefix(target, "integrations/")
	return id, ok && id != ""
}

// sortedKeys returns m's keys in order, so errors come out in a stable order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// errorList collects field errors.
type errorList []error

func (e *errorList) add(field, format string, args ...any) {
	*e = append(*e, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
}

func (e errorList) err() error {
	if len(e) == 0 {
		return nil
	}
	return fmt.Errorf("invalid configuration: %w", errors.Join(e...))
}
