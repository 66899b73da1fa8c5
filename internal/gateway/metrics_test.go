package gateway

import (
	"os"
	"strings"
	"testing"
)

// The handshake outcomes are listed once, in outcomes(); the metric's help is made from
// that list, and docs/gateway.md must name each of them.
func TestOutcomesDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/gateway.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range outcomes() {
		if !strings.Contains(string(doc), "`"+o+"`") {
			t.Errorf("docs/gateway.md does not name the handshake outcome %q", o)
		}
	}
}
