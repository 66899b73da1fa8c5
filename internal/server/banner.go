package server

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/wsgate/wsgate/internal/config"
)

// Banner is what a starting gateway tells its operator: where it listens, the routes
// and their targets, the authorizers, the @connections endpoints, how many API keys,
// and the local Lambda functions. It holds no secret: URIs lose their query string,
// fragment and user info, keys are counted or named by where they come from, never
// shown.
type Banner struct {
	API    string `json:"api"`
	Source string `json:"source"`
	Stage  string `json:"stage"`
	// WebSocketURL is the handshake URL, ws:// or wss://.
	WebSocketURL string `json:"webSocketUrl"`
	// HealthURL is the management listener's base URL (/healthz, /readyz, /metrics).
	HealthURL   string             `json:"healthUrl"`
	Routes      []BannerRoute      `json:"routes"`
	Authorizers []BannerAuthorizer `json:"authorizers,omitempty"`
	// Connections are the @connections endpoints; none when the API is off.
	Connections []BannerEndpoint `json:"connections"`
	APIKeys     int              `json:"apiKeys"`
	Functions   []BannerFunction `json:"functions,omitempty"`
	// NATS is the embedded NATS server's client URL, else "".
	NATS string `json:"nats,omitempty"`
}

// BannerRoute is one route and its target.
type BannerRoute struct {
	Key             string `json:"routeKey"`
	Target          string `json:"target,omitempty"`
	IntegrationType string `json:"integrationType,omitempty"`
	URI             string `json:"uri,omitempty"`
	TwoWay          bool   `json:"twoWay,omitempty"`
	Authorizer      string `json:"authorizer,omitempty"`
	// IAM is the number of access keys an AWS_IAM route accepts; 0 when it is not AWS_IAM.
	IAM            int  `json:"iamAccessKeys,omitempty"`
	APIKeyRequired bool `json:"apiKeyRequired,omitempty"`
}

// BannerAuthorizer is one authorizer: its kind (cookie, lambda, http), what it runs,
// and its identity sources.
type BannerAuthorizer struct {
	ID             string   `json:"id"`
	Kind           string   `json:"kind"`
	Detail         string   `json:"detail"`
	IdentitySource []string `json:"identitySource,omitempty"`
}

// BannerEndpoint is one @connections endpoint and how it authenticates.
type BannerEndpoint struct {
	URL  string `json:"url"`
	Via  string `json:"via"`
	Auth string `json:"auth"`
}

// BannerFunction is one local Lambda function.
type BannerFunction struct {
	Name    string `json:"name"`
	Runtime string `json:"runtime"`
	Handler string `json:"handler,omitempty"`
}

// NewBanner describes the gateway cfg runs on a (source names where cfg came from).
func NewBanner(cfg *config.Config, a Addrs, source string) Banner {
	ws, httpScheme := "ws", "http"
	if a.TLS {
		ws, httpScheme = "wss", "https"
	}
	stage := cfg.Stage.StageName
	b := Banner{API: cfg.API.Name, Source: source, Stage: stage, WebSocketURL: ws + "://" + a.WebSocket + "/",
		HealthURL: "http://" + a.Management, APIKeys: len(cfg.Server.APIKeys), NATS: a.NATS}

	keys := make([]string, 0, len(cfg.Routes))
	for k := range cfg.Routes {
		keys = append(keys, k)
	}
	order := map[string]int{config.RouteConnect: 0, "$disconnect": 1, "$default": 2}
	sort.Slice(keys, func(i, j int) bool {
		oi, iok := order[keys[i]]
		oj, jok := order[keys[j]]
		switch {
		case iok && jok:
			return oi < oj
		case iok != jok:
			return iok
		}
		return keys[i] < keys[j]
	})
	for _, k := range keys {
		r := cfg.Routes[k]
		br := BannerRoute{Key: k, Target: r.Target, TwoWay: r.RouteResponseSelectionExpression == "$default", APIKeyRequired: r.APIKeyRequired}
		if id, ok := config.IntegrationID(r.Target); ok {
			in := cfg.Integrations[id]
			br.IntegrationType, br.URI = in.IntegrationType, StripURI(in.IntegrationURI)
		}
		switch r.AuthorizationType {
		case "CUSTOM":
			br.Authorizer = r.AuthorizerID
		case "AWS_IAM":
			br.IAM = len(cfg.Server.IAM.Credentials)
		}
		b.Routes = append(b.Routes, br)
	}

	for _, id := range slices.Sorted(maps.Keys(cfg.Authorizers)) {
		az := cfg.Authorizers[id]
		ba := BannerAuthorizer{ID: id, IdentitySource: slices.Clone(az.IdentitySource)}
		switch az.Kind() {
		case config.AuthorizerCookie:
			ba.Kind, ba.Detail = "cookie", strings.Join(az.Cookie.Algorithms, ",")+", key "+keyOrigin(az.Cookie.Key)
		case config.AuthorizerHTTP:
			ba.Kind, ba.Detail = "http", StripURI(az.AuthorizerURI)
		default:
			ba.Kind, ba.Detail = "lambda", StripURI(az.AuthorizerURI)
		}
		if az.AuthorizerResultTTLInSeconds > 0 {
			ba.Detail += fmt.Sprintf(", cached %ds", az.AuthorizerResultTTLInSeconds)
		}
		b.Authorizers = append(b.Authorizers, ba)
	}

	m := cfg.Server.Management
	path := "/" + stage + "/@connections/{connectionId}"
	switch {
	case len(m.Credentials) > 0:
		b.Connections = append(b.Connections, BannerEndpoint{URL: "http://" + a.Management + path, Via: "management listener", Auth: "SigV4"})
		if !m.DisableOnWebSocketListener {
			b.Connections = append(b.Connections, BannerEndpoint{URL: httpScheme + "://" + a.WebSocket + path, Via: "WebSocket listener", Auth: "SigV4"})
		}
	case m.AllowUnsigned:
		b.Connections = append(b.Connections, BannerEndpoint{URL: "http://" + a.Management + path, Via: "management listener", Auth: "unsigned (development only)"})
	}

	for _, n := range slices.Sorted(maps.Keys(cfg.Functions)) {
		f := cfg.Functions[n]
		b.Functions = append(b.Functions, BannerFunction{Name: n, Runtime: f.Runtime, Handler: f.Handler})
	}
	return b
}

// keyOrigin says where a cookie authorizer's key comes from, without the key.
func keyOrigin(k config.KeySource) string {
	switch {
	case k.DevKey:
		return "DevKey (public development key)"
	case k.HMACSecretEnv != "":
		return "HmacSecretEnv " + k.HMACSecretEnv
	case k.HMACSecretFile != "":
		return "HmacSecretFile " + k.HMACSecretFile
	case k.PublicKeyFile != "":
		return "PublicKeyFile " + k.PublicKeyFile
	case k.JWKSURL != "":
		return "JwksUrl " + StripURI(k.JWKSURL)
	}
	return "none"
}

// StripURI drops what may hold a secret from a URI: the query string, the fragment and
// the user info. A Lambda name or ARN comes back as it is.
func StripURI(s string) string {
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i]
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	host, path, hasPath := strings.Cut(rest, "/")
	if i := strings.LastIndex(host, "@"); i >= 0 {
		host = host[i+1:]
	}
	if hasPath {
		return scheme + "://" + host + "/" + path
	}
	return scheme + "://" + host
}

// String is the banner as lines for a terminal.
func (b Banner) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "wsgate: serving %s (%s), stage %s\n", b.API, b.Source, b.Stage)
	tw := tabwriter.NewWriter(&sb, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  WebSocket\t%s\n", b.WebSocketURL)
	fmt.Fprintf(tw, "  health\t%s/healthz, /readyz, /metrics\n", b.HealthURL)
	if b.NATS != "" {
		fmt.Fprintf(tw, "  NATS\t%s\n", b.NATS)
	}
	tw.Flush()
	sb.WriteString("  routes\n")
	tw = tabwriter.NewWriter(&sb, 0, 4, 2, ' ', 0)
	for _, r := range b.Routes {
		target := "(no integration)"
		if r.IntegrationType != "" {
			target = r.IntegrationType
			if r.URI != "" {
				target += " " + r.URI
			}
		} else if r.Target != "" {
			target = r.Target + " (missing)"
		}
		var notes []string
		if r.TwoWay {
			notes = append(notes, "two-way")
		}
		if r.Authorizer != "" {
			notes = append(notes, "authorizer "+r.Authorizer)
		}
		if r.IAM > 0 {
			plural := "s"
			if r.IAM == 1 {
				plural = ""
			}
			notes = append(notes, fmt.Sprintf("AWS_IAM, %d access key%s", r.IAM, plural))
		}
		if r.APIKeyRequired {
			notes = append(notes, "API key required")
		}
		fmt.Fprintf(tw, "    %s\t%s\t%s\n", r.Key, target, strings.Join(notes, ", "))
	}
	tw.Flush()
	if len(b.Authorizers) > 0 {
		sb.WriteString("  authorizers\n")
		tw = tabwriter.NewWriter(&sb, 0, 4, 2, ' ', 0)
		for _, a := range b.Authorizers {
			src := "identity sources: none"
			if len(a.IdentitySource) > 0 {
				src = "identity sources: " + strings.Join(a.IdentitySource, ", ")
			}
			fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\n", a.ID, a.Kind, a.Detail, src)
		}
		tw.Flush()
	}
	if len(b.Connections) == 0 {
		sb.WriteString("  @connections off (no Server.Management.Credentials, AllowUnsigned false)\n")
	} else {
		sb.WriteString("  @connections\n")
		tw = tabwriter.NewWriter(&sb, 0, 4, 2, ' ', 0)
		for _, c := range b.Connections {
			fmt.Fprintf(tw, "    %s\t%s, %s\n", c.URL, c.Via, c.Auth)
		}
		tw.Flush()
	}
	fmt.Fprintf(&sb, "  API keys: %d\n", b.APIKeys)
	if len(b.Functions) > 0 {
		sb.WriteString("  local Lambda functions\n")
		tw = tabwriter.NewWriter(&sb, 0, 4, 2, ' ', 0)
		for _, f := range b.Functions {
			fmt.Fprintf(tw, "    %s\t%s\t%s\n", f.Name, f.Runtime, f.Handler)
		}
		tw.Flush()
	}
	lines := strings.Split(sb.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}
