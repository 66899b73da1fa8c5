package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/coder/websocket"

	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/devcert"
	"github.com/wsgate/wsgate/internal/testutil"
)

// The AWS WebSocket chat sample (examples/sam-chat: its SAM template and its three
// Node.js functions) run by serve --template against a real local DynamoDB (dynalite):
// two clients chat through the functions and @connections; a connection that is gone
// is removed from the table on the 410 its POST gets; a client that leaves is removed
// by $disconnect.
func TestLambdaAppChatSample(t *testing.T) {
	ddbURL := startDynalite(t)
	ddb := dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(ddbURL),
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const table = "simplechat-connections-table" // the template's TableName default
	if _, err := ddb.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("connectionId"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("connectionId"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	}); err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	ids := func() ([]string, error) {
		out, err := ddb.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table)})
		if err != nil {
			return nil, err
		}
		var ids []string
		for _, it := range out.Items {
			if v, ok := it["connectionId"].(*types.AttributeValueMemberS); ok {
				ids = append(ids, v.Value)
			}
		}
		slices.Sort(ids)
		return ids, nil
	}

	// The functions post to https://{domainName}/{stage}/@connections as the sample
	// does: the gateway serves TLS with a certificate of a CA the functions trust, and
	// SigV4 with the keys the functions get.
	ca, err := devcert.New()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.Leaf("localhost", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile, caFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "ca.pem")
	for path, data := range map[string][]byte{certFile: certPEM, keyFile: keyPEM,
		caFile: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	overrides := fmt.Sprintf(`
Functions:
  OnConnectFunction: {Environment: {AWS_ENDPOINT_URL_DYNAMODB: %[1]s}}
  OnDisconnectFunction: {Environment: {AWS_ENDPOINT_URL_DYNAMODB: %[1]s}}
  SendMessageFunction: {Environment: {AWS_ENDPOINT_URL_DYNAMODB: %[1]s}}
Server:
  TLS: {CertFile: %[2]s, KeyFile: %[3]s}
  Management:
    Credentials: [{AccessKeyId: AKIDCHATSAMPLE, SecretAccessKeyEnv: CHAT_SECRET}]
`, ddbURL, certFile, keyFile)
	overPath := filepath.Join(dir, "overrides.yaml")
	if err := os.WriteFile(overPath, []byte(overrides), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadTemplate(samChat, overPath)
	if err != nil {
		t.Fatal(err)
	}
	getenv := func(name string) string {
		switch name {
		case "CHAT_SECRET", "AWS_SECRET_ACCESS_KEY":
			return "chat-sample-secret"
		case "AWS_ACCESS_KEY_ID":
			return "AKIDCHATSAMPLE"
		}
		return ""
	}
	r := serveConfig(t, cfg, Deps{Getenv: getenv, FunctionsCAFile: caFile}, nil)

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	t.Cleanup(client.CloseIdleConnections)
	dialChat := func() *websocket.Conn {
		t.Helper()
		c, _, err := websocket.Dial(ctx, "wss://"+r.WebSocket+"/Prod", &websocket.DialOptions{HTTPClient: client})
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		t.Cleanup(func() { c.CloseNow() })
		return c
	}
	alice, bob := dialChat(), dialChat()
	testutil.Eventually(t, 10*time.Second, func() error {
		got, err := ids()
		if err != nil || len(got) != 2 {
			return fmt.Errorf("connections in the table: %v, %v", got, err)
		}
		return nil
	})

	// A connection the table still holds and the gateway no longer has.
	const stale = "R1kmxc2VNjMCFIA="
	if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table),
		Item: map[string]types.AttributeValue{"connectionId": &types.AttributeValueMemberS{Value: stale}}}); err != nil {
		t.Fatal(err)
	}

	write(t, alice, `{"message":"sendmessage","data":"hello from alice"}`)
	for name, c := range map[string]*websocket.Conn{"alice": alice, "bob": bob} {
		if got := read(t, c); got != "hello from alice" {
			t.Errorf("%s got %q", name, got)
		}
	}
	testutil.Eventually(t, 10*time.Second, func() error {
		got, err := ids()
		if err != nil || len(got) != 2 || slices.Contains(got, stale) {
			return fmt.Errorf("after the send, the table holds %v (%v): want the stale connection removed", got, err)
		}
		return nil
	})

	// Bob leaves: $disconnect removes him; alice's next message reaches her alone.
	bob.Close(websocket.StatusNormalClosure, "bye")
	testutil.Eventually(t, 10*time.Second, func() error {
		got, err := ids()
		if err != nil || len(got) != 1 {
			return fmt.Errorf("after bob left, the table holds %v (%v)", got, err)
		}
		return nil
	})
	write(t, alice, `{"message":"sendmessage","data":"anyone?"}`)
	if got := read(t, alice); got != "anyone?" {
		t.Errorf("alice got %q", got)
	}
}

// startDynalite runs examples/sam-chat/dynalite.mjs (dynalite, an in-memory DynamoDB)
// on a free port until the test ends, and returns its URL.
func startDynalite(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("node", "dynalite.mjs")
	cmd.Dir = "../../examples/sam-chat"
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("node dynalite.mjs (run npm ci in examples/sam-chat): %v", err)
	}
	t.Cleanup(func() {
		stdin.Close() // dynalite.mjs exits when its input closes
		if err := cmd.Wait(); err != nil {
			t.Errorf("dynalite: %v", err)
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("dynalite did not start: %v", err)
	}
	go io.Copy(io.Discard, stdout) // ends when the process does
	var addr struct{ Port int }
	if err := json.Unmarshal([]byte(line), &addr); err != nil || addr.Port == 0 {
		t.Fatalf("dynalite said %q", line)
	}
	return fmt.Sprintf("http://127.0.0.1:%d", addr.Port)
}
