package lambdaauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/wsgate/wsgate/cookieauth"
)

var (
	testNow    = time.Date(2025, 3, 2, 9, 15, 0, 0, time.UTC)
	testSecret = []byte("0123456789abcdef0123456789abcdef-test-only")
)

const (
	testArn    = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/default/$connect"
	testCSRF   = "c3JmLXRva2VuLTEyMzQ1Njc4OTA"
	testOrigin = "https://ui.dev.example.com"
)

// keyFunc is a KeySource made of a function: the handler tests' stand-in for a key
// source (the sources themselves are tested in cookieauth).
type keyFunc func(ctx context.Context, alg, kid string) (any, error)

func (f keyFunc) Key(ctx context.Context, alg, kid string) (any, error) { return f(ctx, alg, kid) }

// mintHS256 signs claims with testSecret.
func mintHS256(tb testing.TB, claims jwt.MapClaims) string {
	tb.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(testSecret)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func validClaims() jwt.MapClaims {
	return jwt.MapClaims{"sub": "user-42", "exp": testNow.Add(10 * time.Minute).Unix(), "csrf": testCSRF, "tenant": "acme"}
}

// connectEvent is a $connect authorizer event carrying the given Cookie and Origin
// headers (omitted when empty) and the CSRF token in the query.
func connectEvent(cookie, origin string) Event {
	h := map[string][]string{"Host": {"ws.dev.example.com"}}
	if cookie != "" {
		h["Cookie"] = []string{cookie}
	}
	if origin != "" {
		h["Origin"] = []string{origin}
	}
	single := map[string]string{}
	for k, v := range h {
		single[k] = v[len(v)-1]
	}
	return Event{
		Type:                            EventTypeRequest,
		MethodArn:                       testArn,
		Headers:                         single,
		MultiValueHeaders:               h,
		QueryStringParameters:           map[string]string{"csrf": testCSRF},
		MultiValueQueryStringParameters: map[string][]string{"csrf": {testCSRF}},
		RequestContext: RequestContext{
			RouteKey: "$connect", EventType: "CONNECT", RequestID: "req-1", ConnectionID: "R1kmxc2VNjMCFIA=",
			Identity: Identity{SourceIP: "192.0.2.1"},
		},
	}
}

func testConfig() cookieauth.Config {
	return cookieauth.Config{
		Algorithms:     []string{"HS256"},
		AllowedOrigins: []string{testOrigin},
		CSRFClaim:      "csrf",
		ContextClaims:  []string{"tenant"},
	}
}

func newTestHandler(tb testing.TB, keys cookieauth.KeySource, logs *bytes.Buffer) *Handler {
	tb.Helper()
	a, err := cookieauth.New(testConfig(), keys, cookieauth.WithClock(func() time.Time { return testNow }))
	if err != nil {
		tb.Fatal(err)
	}
	return New(a, slog.New(slog.NewJSONHandler(logs, nil)))
}

// logLine is the decision log line's fields the tests check.
type logLine struct {
	Level        string `json:"level"`
	Msg          string `json:"msg"`
	Outcome      string `json:"outcome"`
	Reason       string `json:"reason"`
	RequestID    string `json:"requestId"`
	ConnectionID string `json:"connectionId"`
	SourceIP     string `json:"sourceIp"`
}

func TestHandle(t *testing.T) {
	secretKey := keyFunc(func(context.Context, string, string) (any, error) { return testSecret, nil })
	token := mintHS256(t, validClaims())
	cookie := "theme=dark; JWT=" + token + "; CSRF-TOKEN=" + testCSRF
	expiredClaims := validClaims()
	expiredClaims["exp"] = testNow.Add(-time.Minute).Unix()
	expired := mintHS256(t, expiredClaims)

	for _, tc := range []struct {
		name    string
		keys    cookieauth.KeySource
		event   Event
		want    Response
		wantErr error
		wantLog logLine
	}{
		{
			name:  "valid cookie, CSRF and Origin: Allow with principal and context",
			keys:  secretKey,
			event: connectEvent(cookie, testOrigin),
			want: AllowResponse("user-42", testArn, map[string]any{
				"sub": "user-42", "exp": float64(testNow.Add(10 * time.Minute).Unix()), "tenant": "acme",
			}),
			wantLog: logLine{Level: "INFO", Outcome: "allow", Reason: "allowed"},
		},
		{
			name:    "bad Origin: Deny",
			keys:    secretKey,
			event:   connectEvent(cookie, "https://evil.example.net"),
			want:    DenyResponse("user-42", testArn),
			wantLog: logLine{Level: "INFO", Outcome: "deny", Reason: "Origin not allowed"},
		},
		{
			name:    "no cookie: Unauthorized",
			keys:    secretKey,
			event:   connectEvent("", testOrigin),
			wantErr: ErrUnauthorized,
			wantLog: logLine{Level: "INFO", Outcome: "unauthorized", Reason: "no JWT cookie"},
		},
		{
			name:    "expired token: Unauthorized",
			keys:    secretKey,
			event:   connectEvent("JWT="+expired+"; CSRF-TOKEN="+testCSRF, testOrigin),
			wantErr: ErrUnauthorized,
			wantLog: logLine{Level: "INFO", Outcome: "unauthorized", Reason: "invalid token: expired"},
		},
		{
			name: "key source down: generic error",
			keys: keyFunc(func(context.Context, string, string) (any, error) {
				return nil, errors.New("parameter store unavailable")
			}),
			event:   connectEvent(cookie, testOrigin),
			wantErr: ErrInternal,
			wantLog: logLine{Level: "ERROR", Outcome: "error", Reason: "verification key unavailable: parameter store unavailable"},
		},
		{
			name: "not a REQUEST event: generic error",
			keys: secretKey,
			event: func() Event {
				e := connectEvent(cookie, testOrigin)
				e.Type = "TOKEN"
				return e
			}(),
			wantErr: ErrInternal,
			wantLog: logLine{Level: "ERROR", Outcome: "error", Reason: "event type is not REQUEST"},
		},
		{
			name: "no methodArn: generic error",
			keys: secretKey,
			event: func() Event {
				e := connectEvent(cookie, testOrigin)
				e.MethodArn = ""
				return e
			}(),
			wantErr: ErrInternal,
			wantLog: logLine{Level: "ERROR", Outcome: "error", Reason: "event has no methodArn"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := newTestHandler(t, tc.keys, &logs)
			got, err := h.Handle(t.Context(), tc.event)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error = %v, want %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
			lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
			if len(lines) != 1 {
				t.Fatalf("got %d log lines, want 1:\n%s", len(lines), logs.String())
			}
			var line logLine
			if err := json.Unmarshal([]byte(lines[0]), &line); err != nil {
				t.Fatalf("log line is not JSON: %v", err)
			}
			want := tc.wantLog
			want.Msg, want.RequestID, want.ConnectionID, want.SourceIP = "authorizer decision", "req-1", "R1kmxc2VNjMCFIA=", "192.0.2.1"
			if diff := cmp.Diff(want, line); diff != "" {
				t.Errorf("log line (-want +got):\n%s", diff)
			}
			for _, secret := range []string{token, expired, testCSRF, string(testSecret), strings.Split(token, ".")[2]} {
				if strings.Contains(logs.String(), secret) {
					t.Errorf("log holds a cookie, token, signature or secret: %s", logs.String())
				}
			}
		})
	}
}

// deciderFunc is a Decider made of a function, for decisions cookieauth never makes.
type deciderFunc func(context.Context, cookieauth.Request) cookieauth.Decision

func (f deciderFunc) Decide(ctx context.Context, r cookieauth.Request) cookieauth.Decision {
	return f(ctx, r)
}

func TestHandleOtherDeciders(t *testing.T) {
	for _, tc := range []struct {
		name       string
		decision   cookieauth.Decision
		want       Response
		wantErr    error
		wantReason string
	}{
		{
			name:       "Deny without principal is anonymous",
			decision:   cookieauth.Decision{Outcome: cookieauth.Deny, Reason: "nope"},
			want:       DenyResponse(AnonymousPrincipal, testArn),
			wantReason: "nope",
		},
		{
			name:       "Allow without principal is an error",
			decision:   cookieauth.Decision{Outcome: cookieauth.Allow, Reason: "allowed"},
			wantErr:    ErrInternal,
			wantReason: "allow answer invalid: no principal",
		},
		{
			name:       "Allow with an object in the context is an error",
			decision:   cookieauth.Decision{Outcome: cookieauth.Allow, PrincipalID: "p", Context: map[string]any{"o": map[string]any{}}, Reason: "allowed"},
			wantErr:    ErrInternal,
			wantReason: "allow answer invalid: context.o: an object is not a string, number or boolean",
		},
		{
			name:       "zero decision is an error",
			wantErr:    ErrInternal,
			wantReason: "",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := New(deciderFunc(func(context.Context, cookieauth.Request) cookieauth.Decision { return tc.decision }),
				slog.New(slog.NewJSONHandler(&logs, nil)))
			got, err := h.Handle(t.Context(), connectEvent("", ""))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error = %v, want %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
			var line logLine
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
				t.Fatalf("log line is not JSON: %v", err)
			}
			if line.Reason != tc.wantReason {
				t.Errorf("logged reason = %q, want %q", line.Reason, tc.wantReason)
			}
		})
	}
}

func TestErrorMessages(t *testing.T) {
	// API Gateway maps exactly "Unauthorized" to 401; anything else is a 500.
	if got := ErrUnauthorized.Error(); got != "Unauthorized" {
		t.Errorf("ErrUnauthorized = %q", got)
	}
	if got := ErrInternal.Error(); got == "Unauthorized" {
		t.Errorf("ErrInternal must not read as Unauthorized")
	}
}

func TestNewNilLogger(t *testing.T) {
	h := New(deciderFunc(func(context.Context, cookieauth.Request) cookieauth.Decision {
		return cookieauth.Decision{Outcome: cookieauth.Unauthorized}
	}), nil)
	if _, err := h.Handle(t.Context(), connectEvent("", "")); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("error = %v, want ErrUnauthorized", err)
	}
}
