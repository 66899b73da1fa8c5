package integration

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// Lambda is an AWS_PROXY integration: it invokes a function with the WebSocket proxy
// event API Gateway sends (proxyEvent) and reads an APIGatewayProxyResponse.
type Lambda struct {
	invoker  LambdaInvoker
	function string
	timeout  time.Duration
}

var _ Integration = (*Lambda)(nil)

// Invoke invokes the function once (RequestResponse).
func (l *Lambda) Invoke(ctx context.Context, req *Request) (*Response, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	payload, err := json.Marshal(newProxyEvent(req))
	if err != nil {
		return nil, err
	}
	out, err := l.invoker.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(l.function), Payload: payload})
	if err != nil {
		return nil, fmt.Errorf("invoking %s: %w", l.function, err)
	}
	if out.FunctionError != nil {
		return nil, fmt.Errorf("function %s failed (%s)", l.function, aws.ToString(out.FunctionError))
	}
	return parseProxyResponse(out.Payload)
}

// proxyEvent is the Lambda proxy event of a WebSocket route, with the keys API Gateway
// sends for each event type and nothing else (events.APIGatewayWebsocketProxyRequest
// would add "messageId": "" on CONNECT and DISCONNECT, "userAgent": "" and
// "authorizer": {} when there are none, and drop an empty body):
//
//   - CONNECT: headers and multiValueHeaders (names as the client sent them), the
//     query maps if the URL has a query, requestContext, isBase64Encoded.
//   - MESSAGE: requestContext (with messageId), body, isBase64Encoded.
//   - DISCONNECT: the headers API Gateway sends then (Host, and x-api-key,
//     X-Forwarded-For and x-restapi empty), requestContext (with disconnectStatusCode
//     and disconnectReason), isBase64Encoded.
//
// stageVariables is present when the stage has variables. requestContext.authorizer is
// present when the $connect authorizer gave a principal or a context.
type proxyEvent struct {
	Headers                         map[string]string   `json:"headers,omitempty"`
	MultiValueHeaders               map[string][]string `json:"multiValueHeaders,omitempty"`
	QueryStringParameters           map[string]string   `json:"queryStringParameters,omitempty"`
	MultiValueQueryStringParameters map[string][]string `json:"multiValueQueryStringParameters,omitempty"`
	StageVariables                  map[string]string   `json:"stageVariables,omitempty"`
	RequestContext                  proxyContext        `json:"requestContext"`
	Body                            *string             `json:"body,omitempty"`
	IsBase64Encoded                 bool                `json:"isBase64Encoded"`
}

// proxyContext is a proxy event's requestContext.
type proxyContext struct {
	RouteKey             string         `json:"routeKey"`
	MessageID            string         `json:"messageId,omitempty"`
	EventType            string         `json:"eventType"`
	ExtendedRequestID    string         `json:"extendedRequestId"`
	RequestTime          string         `json:"requestTime"`
	MessageDirection     string         `json:"messageDirection"`
	DisconnectStatusCode *int           `json:"disconnectStatusCode,omitempty"`
	DisconnectReason     *string        `json:"disconnectReason,omitempty"`
	Stage                string         `json:"stage"`
	ConnectedAt          int64          `json:"connectedAt"`
	RequestTimeEpoch     int64          `json:"requestTimeEpoch"`
	Identity             proxyIdentity  `json:"identity"`
	RequestID            string         `json:"requestId"`
	DomainName           string         `json:"domainName"`
	ConnectionID         string         `json:"connectionId"`
	APIID                string         `json:"apiId"`
	Authorizer           map[string]any `json:"authorizer,omitempty"`
}

// proxyIdentity is requestContext.identity: userAgent only when the client sent one.
// An AWS_IAM connection adds the IAM caller's fields (iam.go).
type proxyIdentity struct {
	*iamIdentityJSON
	UserAgent string `json:"userAgent,omitempty"`
	SourceIP  string `json:"sourceIp"`
}

// newProxyEvent is the Lambda proxy event API Gateway sends for req.
func newProxyEvent(req *Request) *proxyEvent {
	var auth map[string]any
	if len(req.AuthorizerContext) > 0 || req.PrincipalID != "" {
		auth = req.AuthorizerContext.Map(1)
		if req.PrincipalID != "" {
			auth["principalId"] = req.PrincipalID
		}
	}
	ev := &proxyEvent{
		RequestContext: proxyContext{
			RouteKey:          req.RouteKey,
			EventType:         req.EventType,
			ConnectionID:      req.ConnectionID,
			ConnectedAt:       req.ConnectedAt.UnixMilli(),
			RequestTimeEpoch:  req.RequestTime.UnixMilli(),
			RequestTime:       req.RequestTime.UTC().Format(RequestTimeLayout),
			DomainName:        req.DomainName,
			Stage:             req.Stage,
			APIID:             req.APIID,
			RequestID:         req.RequestID,
			ExtendedRequestID: req.ExtendedRequestID,
			MessageDirection:  "IN",
			Identity:          proxyIdentity{SourceIP: req.SourceIP, UserAgent: req.UserAgent, iamIdentityJSON: newIAMIdentityJSON(req.IAM)},
			Authorizer:        auth,
		},
		IsBase64Encoded: req.IsBase64Encoded,
		StageVariables:  req.StageVariables,
	}
	switch req.EventType {
	case EventConnect:
		ev.Headers, ev.MultiValueHeaders = lastAndAll(req.Headers)
		ev.QueryStringParameters, ev.MultiValueQueryStringParameters = lastAndAll(req.Query)
	case EventMessage:
		ev.RequestContext.MessageID = req.MessageID
		body := string(req.Body)
		if req.IsBase64Encoded {
			body = base64.StdEncoding.EncodeToString(req.Body)
		}
		ev.Body = &body
	case EventDisconnect:
		code, reason := req.DisconnectStatusCode, req.DisconnectReason
		ev.RequestContext.DisconnectStatusCode, ev.RequestContext.DisconnectReason = &code, &reason
		ev.Headers, ev.MultiValueHeaders = lastAndAll(disconnectHeaders(req.DomainName))
	}
	return ev
}

// disconnectHeaders are the headers of a DISCONNECT event: API Gateway sends the Host
// the client connected to and three more, empty.
func disconnectHeaders(host string) map[string][]string {
	return map[string][]string{"Host": {host}, "x-api-key": {""}, "X-Forwarded-For": {""}, "x-restapi": {""}}
}

func lastAndAll(m map[string][]string) (map[string]string, map[string][]string) {
	if len(m) == 0 {
		return nil, nil
	}
	last := make(map[string]string, len(m))
	for k, vs := range m {
		if len(vs) > 0 {
			last[k] = vs[len(vs)-1]
		}
	}
	return last, m
}

// parseProxyResponse reads a Lambda proxy response. An empty or null payload, or one
// without statusCode, is a 200 with no body, as API Gateway treats it for WebSocket
// routes.
func parseProxyResponse(b []byte) (*Response, error) {
	var raw struct {
		StatusCode        *json.RawMessage    `json:"statusCode"`
		Headers           map[string]string   `json:"headers"`
		MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
		Body              *string             `json:"body"`
		IsBase64Encoded   bool                `json:"isBase64Encoded"`
	}
	resp := &Response{StatusCode: http.StatusOK, Header: http.Header{}}
	if len(b) == 0 || string(b) == "null" {
		return resp, nil
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, errors.New("malformed Lambda proxy response")
	}
	if raw.StatusCode != nil {
		var n json.Number
		if err := json.Unmarshal(*raw.StatusCode, &n); err != nil {
			var s string
			if json.Unmarshal(*raw.StatusCode, &s) != nil {
				return nil, errors.New("malformed Lambda proxy response: statusCode")
			}
			n = json.Number(s)
		}
		code, err := strconv.Atoi(n.String())
		if err != nil || code < 100 || code > 599 {
			return nil, fmt.Errorf("malformed Lambda proxy response: statusCode %s", n)
		}
		resp.StatusCode = code
	}
	for k, v := range raw.Headers {
		resp.Header.Set(k, v)
	}
	for k, vs := range raw.MultiValueHeaders {
		for _, v := range vs {
			resp.Header.Add(k, v)
		}
	}
	if raw.Body != nil {
		if raw.IsBase64Encoded {
			d, err := base64.StdEncoding.DecodeString(*raw.Body)
			if err != nil {
				return nil, errors.New("malformed Lambda proxy response: body is not base64")
			}
			resp.Body = d
		} else {
			resp.Body = []byte(*raw.Body)
		}
	}
	return resp, nil
}
