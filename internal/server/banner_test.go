package server

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsgate/wsgate/internal/config"
)

var updateBanner = flag.Bool("update-banner", false, "rewrite testdata/banner/*.golden")

// TestBannerGolden builds the banner of each testdata/banner/*.yaml and compares it,
// as text and as JSON, with its .golden file (-update-banner rewrites them).
func TestBannerGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/banner/*.yaml")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			cfg, err := config.Load(in)
			if err != nil {
				t.Fatal(err)
			}
			a := Addrs{WebSocket: "127.0.0.1:8080", Management: "127.0.0.1:8081"}
			if strings.Contains(in, "full") {
				a.TLS, a.NATS = true, "nats://127.0.0.1:4222"
			}
			b := NewBanner(cfg, a, in)
			js, err := json.MarshalIndent(b, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got := b.String() + "\n" + string(js) + "\n"
			golden := strings.TrimSuffix(in, ".yaml") + ".golden"
			if *updateBanner {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("banner (-want +got):\n%s", diff)
			}
			for _, secret := range []string{"TOPSECRET", "hunter2", "pass@", "frag"} {
				if strings.Contains(got, secret) {
					t.Errorf("the banner holds %q", secret)
				}
			}
		})
	}
}

func TestStripURI(t *testing.T) {
	for in, want := range map[string]string{
		"https://u:p@host.example.com/a/b?x=1#f": "https://host.example.com/a/b",
		"http://127.0.0.1:9000":                  "http://127.0.0.1:9000",
		"http://h/?q":                            "http://h/",
		"arn:aws:lambda:eu-west-1:1:function:f":  "arn:aws:lambda:eu-west-1:1:function:f",
		"http://${stageVariables.host}/x?k=v":    "http://${stageVariables.host}/x",
		"http://a@b@c/p":                         "http://c/p",
		"":                                       "",
	} {
		if got := StripURI(in); got != want {
			t.Errorf("StripURI(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzStripURI: whatever the URI, what is left has no query string, fragment or user
// info.
func FuzzStripURI(f *testing.F) {
	for _, s := range []string{"https://u:p@host/a?x=1#f", "arn:aws:lambda:eu-west-1:1:function:f", "http://h", "://@?#", "http://${stageVariables.h}/ws?k=v"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := StripURI(s)
		if strings.ContainsAny(got, "?#") {
			t.Fatalf("StripURI(%q) = %q keeps a query or fragment", s, got)
		}
		if _, rest, ok := strings.Cut(got, "://"); ok {
			host, _, _ := strings.Cut(rest, "/")
			if strings.Contains(host, "@") {
				t.Fatalf("StripURI(%q) = %q keeps user info", s, got)
			}
		}
	})
}
