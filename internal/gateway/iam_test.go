package gateway

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsgate/wsgate/authevent"
)

// TestStripPresign: the presigned URL's parameters leave the event's query maps, which
// become null when nothing else is left.
func TestStripPresign(t *testing.T) {
	ev := &authevent.Event{
		QueryStringParameters: map[string]string{"room": "1", "X-Amz-Signature": "s", "X-Amz-Credential": "c", "X-Amz-Security-Token": "t"},
		MultiValueQueryStringParameters: map[string][]string{"room": {"1"}, "X-Amz-Signature": {"s"}, "X-Amz-Credential": {"c"},
			"X-Amz-Security-Token": {"t"}},
	}
	stripPresign(ev)
	if diff := cmp.Diff(map[string]string{"room": "1"}, ev.QueryStringParameters); diff != "" {
		t.Error(diff)
	}
	if diff := cmp.Diff(map[string][]string{"room": {"1"}}, ev.MultiValueQueryStringParameters); diff != "" {
		t.Error(diff)
	}
	only := &authevent.Event{
		QueryStringParameters:           map[string]string{"X-Amz-Signature": "s"},
		MultiValueQueryStringParameters: map[string][]string{"X-Amz-Signature": {"s"}},
	}
	if stripPresign(only); only.QueryStringParameters != nil || only.MultiValueQueryStringParameters != nil {
		t.Errorf("a query of the signature alone left %v, %v; want null maps", only.QueryStringParameters, only.MultiValueQueryStringParameters)
	}
	if got := string(messageBody(`say "hi"`)); got != `{"message":"say \"hi\""}` {
		t.Errorf("messageBody = %s", got)
	}
}
