package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDemo(t *testing.T) {
	var out, logs bytes.Buffer
	if err := run(context.Background(), []string{"demo"}, func(string) string { return "" }, nil, &out, &logs); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		switch {
		case strings.Contains(line, `"Effect":"Allow"`):
			got = append(got, "allow")
		case strings.Contains(line, `"Effect":"Deny"`):
			got = append(got, "deny")
		case strings.Contains(line, `{"error":"Unauthorized"}`):
			got = append(got, "unauthorized")
		default:
			got = append(got, line)
		}
	}
	want := []string{"allow", "unauthorized", "deny", "deny", "allow", "deny", "unauthorized"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	for _, reason := range []string{"Origin not allowed", "CSRF token is not bound to this session", "invalid token: expired"} {
		if !strings.Contains(logs.String(), reason) {
			t.Errorf("log lacks %q", reason)
		}
	}
	// A tossed JWT beside alice's: alice's session, never the attacker's.
	if lines := strings.Split(out.String(), "\n"); len(lines) < 5 || !strings.Contains(lines[4], `"principalId":"alice"`) {
		t.Errorf("the tossed-JWT case is not alice's:\n%s", out.String())
	}
	if strings.Contains(logs.String(), "JWT=") || strings.Contains(logs.String(), "eyJhbGci") {
		t.Error("the log contains a cookie or token")
	}
}

func TestAuthorizeFromStdin(t *testing.T) {
	env := map[string]string{
		"WSGATE_JWT_ALGORITHMS":  "HS256",
		"WSGATE_JWT_HMAC_SECRET": "0123456789abcdef0123456789abcdef",
		"WSGATE_ALLOWED_ORIGINS": "https://ui.dev.example.test",
	}
	event := `{"type":"REQUEST","methodArn":"arn:aws:execute-api:eu-west-1:1:a/dev/$connect","headers":{"Origin":"https://ui.dev.example.test"},"requestContext":{"routeKey":"$connect","eventType":"CONNECT"}}`
	var out, logs bytes.Buffer
	if err := run(context.Background(), []string{"authorize"}, func(k string) string { return env[k] }, strings.NewReader(event), &out, &logs); err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := json.Unmarshal(out.Bytes(), &got); err != nil || got["error"] != "Unauthorized" {
		t.Fatalf("got %q (%v), want the Unauthorized error", out.String(), err)
	}

	err := run(context.Background(), []string{"authorize"}, func(string) string { return "" }, strings.NewReader(event), &out, &logs)
	if err == nil || !strings.Contains(err.Error(), "WSGATE_JWT_ALGORITHMS") {
		t.Fatalf("no configuration: got %v, want an error naming WSGATE_JWT_ALGORITHMS", err)
	}
	if err := run(context.Background(), []string{"nope"}, nil, nil, &out, &logs); err == nil {
		t.Fatal("unknown command accepted")
	}
}
