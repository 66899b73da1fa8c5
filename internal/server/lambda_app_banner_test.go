package server

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsgate/wsgate/internal/config"
)

// samChat is AWS's WebSocket chat sample as a SAM app (examples/sam-chat).
const samChat = "../../examples/sam-chat/template.yaml"

// At startup, each local function is logged with what it serves, and each resource type
// of the template wsgate does not emulate is logged once, naming its resources.
func TestLambdaAppStartupLog(t *testing.T) {
	cfg, err := config.LoadTemplate(samChat, "")
	if err != nil {
		t.Fatal(err)
	}
	r := serveConfig(t, cfg, Deps{}, nil)
	functions := map[string]string{}
	notEmulated := map[string]string{}
	for _, line := range strings.Split(r.logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		switch rec["msg"] {
		case "function":
			functions[rec["name"].(string)] = rec["function"].(string)
		case "template: not emulated":
			typ := rec["type"].(string)
			if _, dup := notEmulated[typ]; dup {
				t.Errorf("%s logged twice", typ)
			}
			notEmulated[typ] = rec["resources"].(string)
		}
	}
	dir, err := filepath.Abs("../../examples/sam-chat")
	if err != nil {
		t.Fatal(err)
	}
	wantFunctions := map[string]string{
		"OnConnectFunction":    "nodejs20.x app.handler in " + dir + "/onconnect; serves route $connect",
		"OnDisconnectFunction": "nodejs20.x app.handler in " + dir + "/ondisconnect; serves route $disconnect",
		"SendMessageFunction":  "nodejs20.x app.handler in " + dir + "/sendmessage; serves route sendmessage",
	}
	if diff := cmp.Diff(wantFunctions, functions); diff != "" {
		t.Errorf("function lines (-want +got):\n%s", diff)
	}
	wantNotEmulated := map[string]string{
		"AWS::ApiGatewayV2::Deployment":      "Deployment",
		"AWS::DynamoDB::Table":               "ConnectionsTable",
		"AWS::Lambda::Permission":            "OnConnectPermission, OnDisconnectPermission, SendMessagePermission",
		"AWS::Serverless::Function Policies": "OnConnectFunction, OnDisconnectFunction, SendMessageFunction",
	}
	if diff := cmp.Diff(wantNotEmulated, notEmulated); diff != "" {
		t.Errorf("not emulated lines (-want +got):\n%s", diff)
	}
}
