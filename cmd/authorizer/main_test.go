package main

// The end-to-end test: the real bootstrap binary, built with -tags lambda.norpc, run
// against a Lambda Runtime API served by the test, with WebSocket $connect authorizer
// events as API Gateway sends them.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/wsgate/wsgate/internal/testutil"
	"github.com/wsgate/wsgate/lambdaauth"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	methodArn = "arn:aws:execute-api:eu-west-1:123456789012:q1w2e3r4t5/prod/$connect"
	origin    = "https://ui.dev.example.com"
	csrf      = "c3JmLXRva2VuLWUyZS0xMjM0NTY3ODkw"
	// secret is the test's HMAC secret; ssmSecret is the one the fake SSM serves.
	secret    = "e2e-hmac-secret-0123456789abcdef0123456789"
	ssmSecret = "e2e-ssm-secret-abcdef0123456789abcdef012345"
	// invokeTimeout bounds how long the test waits for the binary's answer.
	invokeTimeout = 30 * time.Second
)

// buildBootstrap builds cmd/authorizer as the Lambda does into t.TempDir().
func buildBootstrap(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build bootstrap: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command(goBin, "build", "-tags", "lambda.norpc", "-trimpath", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// result is what the binary posted for one invocation.
type result struct {
	path string // "response" or "error"
	body []byte
}

// runtimeAPI is a Lambda Runtime API (2018-06-01) serving invocations handed to it.
type runtimeAPI struct {
	srv      *httptest.Server
	events   chan []byte
	results  chan result
	initErrs chan []byte
	done     chan struct{}
	nextID   atomic.Int64
}

func newRuntimeAPI(t *testing.T) *runtimeAPI {
	t.Helper()
	api := &runtimeAPI{
		events:   make(chan []byte),
		results:  make(chan result, 16),
		initErrs: make(chan []byte, 1),
		done:     make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		select {
		case ev := <-api.events:
			id := fmt.Sprintf("req-%d", api.nextID.Add(1))
			w.Header().Set("Lambda-Runtime-Aws-Request-Id", id)
			w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(invokeTimeout).UnixMilli(), 10))
			w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:123456789012:function:wsgate-authorizer")
			w.Header().Set("Lambda-Runtime-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
			w.Header().Set("Content-Type", "application/json")
			w.Write(ev)
		case <-r.Context().Done():
		case <-api.done:
		}
	})
	post := func(kind string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			b, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			api.results <- result{path: kind, body: b}
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, `{"status":"OK"}`)
		}
	}
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", post("response"))
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", post("error"))
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		api.initErrs <- b
		w.WriteHeader(http.StatusAccepted)
	})
	api.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		close(api.done)
		api.srv.Close()
	})
	return api
}

// addr is the host:port for AWS_LAMBDA_RUNTIME_API.
func (api *runtimeAPI) addr() string { return strings.TrimPrefix(api.srv.URL, "http://") }

// process is the running bootstrap binary.
type process struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	exited         chan struct{}
	waitErr        error
}

// syncBuffer is safe for a server writing logs while the test reads them.
type syncBuffer = testutil.SyncBuffer

// start runs bin with only env (plus a HOME and AWS files that hold nothing) and kills
// it when the test ends.
func start(t *testing.T, bin string, env map[string]string) *process {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(bin)
	cmd.Env = []string{
		"HOME=" + home,
		"AWS_CONFIG_FILE=" + filepath.Join(home, "no-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "no-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &process{cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.exited
	})
	return p
}

// invoke hands the event to the binary and returns what it posted back.
func invoke(t *testing.T, api *runtimeAPI, p *process, event lambdaauth.Event) result {
	t.Helper()
	b, err := json.Marshal(event)
	if err != nil {
		t.Fatal(err)
	}
	timeout := time.NewTimer(invokeTimeout)
	defer timeout.Stop()
	select {
	case api.events <- b:
	case <-p.exited:
		t.Fatalf("bootstrap exited before taking the invocation: %v\nstderr: %s", p.waitErr, p.stderr.String())
	case <-timeout.C:
		t.Fatalf("bootstrap did not ask for an invocation in %v\nstderr: %s", invokeTimeout, p.stderr.String())
	}
	select {
	case r := <-api.results:
		return r
	case <-p.exited:
		t.Fatalf("bootstrap exited during the invocation: %v\nstderr: %s", p.waitErr, p.stderr.String())
	case <-timeout.C:
		t.Fatalf("no answer in %v\nstderr: %s", invokeTimeout, p.stderr.String())
	}
	return result{}
}

// mint signs a token for user-42 with secret, expiring at exp.
func mint(t *testing.T, key string, exp time.Time) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "user-42", "exp": exp.Unix(), "iat": time.Now().Add(-time.Minute).Unix(), "csrf": csrf, "tenant": "acme",
	}).SignedString([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// connectEvent is a $connect REQUEST authorizer event as API Gateway sends it.
func connectEvent(connectionID, cookie, origin string) lambdaauth.Event {
	single := map[string]string{
		"Host":                  "ws.dev.example.com",
		"Sec-WebSocket-Key":     "x3JJHMbDL1EzLkh9GBhXDw==",
		"Sec-WebSocket-Version": "13",
		"X-Forwarded-For":       "198.51.100.7",
		"X-Forwarded-Port":      "443",
		"X-Forwarded-Proto":     "https",
	}
	if cookie != "" {
		single["Cookie"] = cookie
	}
	if origin != "" {
		single["Origin"] = origin
	}
	multi := map[string][]string{}
	for k, v := range single {
		multi[k] = []string{v}
	}
	now := time.Now()
	return lambdaauth.Event{
		Type:                            "REQUEST",
		MethodArn:                       methodArn,
		Headers:                         single,
		MultiValueHeaders:               multi,
		QueryStringParameters:           map[string]string{"csrf": csrf},
		MultiValueQueryStringParameters: map[string][]string{"csrf": {csrf}},
		StageVariables:                  map[string]string{},
		RequestContext: lambdaauth.RequestContext{
			RouteKey:          "$connect",
			EventType:         "CONNECT",
			ExtendedRequestID: "NrAz3HTLjoEFnQg=",
			RequestTime:       now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			MessageDirection:  "IN",
			Stage:             "prod",
			ConnectedAt:       now.UnixMilli(),
			RequestTimeEpoch:  now.UnixMilli(),
			Identity:          lambdaauth.Identity{SourceIP: "198.51.100.7"},
			RequestID:         "rq-" + connectionID,
			DomainName:        "ws.dev.example.com",
			ConnectionID:      connectionID,
			APIID:             "q1w2e3r4t5",
		},
	}
}

// baseEnv is the configuration both runs share; the key source is added per run.
func baseEnv(api *runtimeAPI) map[string]string {
	return map[string]string{
		"AWS_LAMBDA_RUNTIME_API": api.addr(),
		"WSGATE_JWT_ALGORITHMS":  "HS256",
		"WSGATE_ALLOWED_ORIGINS": origin,
		"WSGATE_CSRF_CLAIM":      "csrf",
		"WSGATE_CONTEXT_CLAIMS":  "tenant",
	}
}

// lambdaError is the body of a POST to .../error.
type lambdaError struct {
	ErrorMessage string `json:"errorMessage"`
	ErrorType    string `json:"errorType"`
}

// check asserts one invocation's result: an answer equal to want, or an error whose
// message is wantErr.
func check(t *testing.T, got result, want *lambdaauth.Response, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if got.path != "error" {
			t.Fatalf("posted to %s with %s, want an error", got.path, got.body)
		}
		var e lambdaError
		if err := json.Unmarshal(got.body, &e); err != nil {
			t.Fatalf("error body %s: %v", got.body, err)
		}
		if diff := cmp.Diff(lambdaError{ErrorMessage: wantErr, ErrorType: "errorString"}, e); diff != "" {
			t.Errorf("error (-want +got):\n%s", diff)
		}
		return
	}
	if got.path != "response" {
		t.Fatalf("posted to %s with %s, want a response", got.path, got.body)
	}
	parsed, err := lambdaauth.ParseResponse(got.body)
	if err != nil {
		t.Fatalf("answer %s is not valid for API Gateway: %v", got.body, err)
	}
	if allow := want.PolicyDocument.Statement[0].Effect == lambdaauth.EffectAllow; parsed.PolicyDocument.Allows(methodArn) != allow {
		t.Errorf("policy allows methodArn = %v, want %v", !allow, allow)
	}
	var resp lambdaauth.Response
	if err := json.Unmarshal(got.body, &resp); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(*want, resp); diff != "" {
		t.Errorf("answer (-want +got):\n%s", diff)
	}
}

// runCases invokes the standard cases against a running bootstrap whose tokens are
// signed with key.
func runCases(t *testing.T, api *runtimeAPI, p *process, key string) []string {
	exp := time.Now().Add(10 * time.Minute).Truncate(time.Second)
	valid := mint(t, key, exp)
	expired := mint(t, key, time.Now().Add(-time.Hour))
	cookie := func(tok string) string { return "theme=dark; JWT=" + tok + "; CSRF-TOKEN=" + csrf }
	allow := lambdaauth.AllowResponse("user-42", methodArn, map[string]any{"sub": "user-42", "exp": float64(exp.Unix()), "tenant": "acme"})
	deny := lambdaauth.DenyResponse("user-42", methodArn)
	for _, tc := range []struct {
		name    string
		event   lambdaauth.Event
		want    *lambdaauth.Response
		wantErr string
	}{
		{name: "valid cookie, CSRF and Origin: Allow", event: connectEvent("AAAAAAAAAAAAAAA=", cookie(valid), origin), want: &allow},
		{name: "bad Origin: Deny", event: connectEvent("BBBBBBBBBBBBBBB=", cookie(valid), "https://evil.example.net"), want: &deny},
		{name: "no cookie: Unauthorized", event: connectEvent("CCCCCCCCCCCCCCC=", "", origin), wantErr: "Unauthorized"},
		{name: "expired token: Unauthorized", event: connectEvent("DDDDDDDDDDDDDDD=", cookie(expired), origin), wantErr: "Unauthorized"},
		{name: "valid again: Allow", event: connectEvent("EEEEEEEEEEEEEEE=", cookie(valid), origin), want: &allow},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check(t, invoke(t, api, p, tc.event), tc.want, tc.wantErr)
		})
	}
	return []string{valid, expired, csrf, key, strings.Split(valid, ".")[2]}
}

// checkLogs stops the process and checks its decision log: one JSON line per
// invocation with the outcome and ids, and none of the secrets.
func checkLogs(t *testing.T, p *process, secrets []string, wantOutcomes []string) {
	t.Helper()
	p.cmd.Process.Kill()
	<-p.exited
	var outcomes []string
	sc := bufio.NewScanner(strings.NewReader(p.stdout.String()))
	for sc.Scan() {
		var line struct {
			Msg          string `json:"msg"`
			Outcome      string `json:"outcome"`
			RequestID    string `json:"requestId"`
			ConnectionID string `json:"connectionId"`
			SourceIP     string `json:"sourceIp"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil || line.Msg != "authorizer decision" {
			continue
		}
		if line.RequestID == "" || line.ConnectionID == "" || line.SourceIP != "198.51.100.7" {
			t.Errorf("decision log line lacks ids: %s", sc.Text())
		}
		outcomes = append(outcomes, line.Outcome)
	}
	if diff := cmp.Diff(wantOutcomes, outcomes); diff != "" {
		t.Errorf("logged outcomes (-want +got):\n%s\nstdout:\n%s", diff, p.stdout.String())
	}
	all := p.stdout.String() + p.stderr.String()
	for _, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("the output holds a cookie, token, signature or secret:\n%s", all)
		}
	}
}

var standardOutcomes = []string{"allow", "deny", "unauthorized", "unauthorized", "allow"}

func TestBootstrapHMACSecret(t *testing.T) {
	bin := buildBootstrap(t)
	api := newRuntimeAPI(t)
	env := baseEnv(api)
	env["WSGATE_JWT_HMAC_SECRET"] = secret
	p := start(t, bin, env)
	secrets := runCases(t, api, p, secret)
	checkLogs(t, p, secrets, standardOutcomes)
}

// fakeSSM speaks the awsJson1_1 protocol of AmazonSSM.GetParameter and counts calls.
type fakeSSM struct {
	calls atomic.Int64
	name  string
	value string
}

func (f *fakeSSM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name           string
		WithDecryption bool
	}
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if r.Method != http.MethodPost || r.Header.Get("X-Amz-Target") != "AmazonSSM.GetParameter" ||
		!strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") || json.Unmarshal(body, &in) != nil {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"__type":"ValidationException","message":"unexpected request"}`)
		return
	}
	f.calls.Add(1)
	if in.Name != f.name || !in.WithDecryption {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"__type":"ParameterNotFound","message":"no such parameter or not decrypted"}`)
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"Parameter": map[string]any{
		"ARN": "arn:aws:ssm:eu-west-1:123456789012:parameter" + f.name, "DataType": "text",
		"LastModifiedDate": 1.7e9, "Name": f.name, "Type": "SecureString", "Value": f.value, "Version": 3,
	}})
}

func TestBootstrapSSMSecret(t *testing.T) {
	bin := buildBootstrap(t)
	api := newRuntimeAPI(t)
	ssmAPI := &fakeSSM{name: "/wsgate/dev/jwt-secret", value: ssmSecret}
	ssmSrv := httptest.NewServer(ssmAPI)
	t.Cleanup(ssmSrv.Close)
	env := baseEnv(api)
	env["WSGATE_JWT_HMAC_SECRET_SSM_PARAMETER"] = ssmAPI.name
	env["AWS_ENDPOINT_URL_SSM"] = ssmSrv.URL
	env["AWS_REGION"] = "eu-west-1"
	env["AWS_ACCESS_KEY_ID"] = "AKIDEXAMPLE"
	env["AWS_SECRET_ACCESS_KEY"] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	p := start(t, bin, env)
	secrets := runCases(t, api, p, ssmSecret)
	if got := ssmAPI.calls.Load(); got != 1 {
		t.Errorf("GetParameter called %d times for %d invocations, want once (at cold start)", got, len(standardOutcomes))
	}
	checkLogs(t, p, append(secrets, env["AWS_SECRET_ACCESS_KEY"]), standardOutcomes)
}

func TestBootstrapBadConfiguration(t *testing.T) {
	bin := buildBootstrap(t)
	api := newRuntimeAPI(t)
	for _, tc := range []struct {
		name     string
		env      map[string]string
		wantLine string
	}{
		{
			name:     "no algorithms",
			env:      map[string]string{"WSGATE_JWT_HMAC_SECRET": secret, "WSGATE_ALLOWED_ORIGINS": origin},
			wantLine: "wsgate-authorizer: WSGATE_JWT_ALGORITHMS: required: the comma-separated JWT algorithms to accept (e.g. HS256 or RS256,ES256)\n",
		},
		{
			name:     "two key sources",
			env:      map[string]string{"WSGATE_JWT_ALGORITHMS": "HS256", "WSGATE_ALLOWED_ORIGINS": origin, "WSGATE_JWT_HMAC_SECRET": secret, "WSGATE_JWKS_URL": "https://login.example.com/jwks.json"},
			wantLine: "wsgate-authorizer: WSGATE_JWT_HMAC_SECRET and WSGATE_JWKS_URL: set exactly one key source, not 2\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.env["AWS_LAMBDA_RUNTIME_API"] = api.addr()
			p := start(t, bin, tc.env)
			select {
			case <-p.exited:
			case <-time.After(invokeTimeout):
				t.Fatalf("bootstrap still running with a bad configuration")
			}
			if p.waitErr == nil || p.cmd.ProcessState.ExitCode() != 1 {
				t.Errorf("exit: %v, want exit status 1", p.waitErr)
			}
			if diff := cmp.Diff(tc.wantLine, p.stderr.String()); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
			if strings.Contains(p.stderr.String()+p.stdout.String(), secret) {
				t.Error("the output holds the secret")
			}
		})
	}
}
