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

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// Lambda is an AWS_PROXY integration: it invokes a function with the
// APIGatewayWebsocketProxyRequest event and reads an APIGatewayProxyResponse.
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
	payload, err := json.Marshal(ProxyEvent(req))
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

// ProxyEvent is the Lambda proxy event API Gateway sends for req.
func ProxyEvent(req *Request) events.APIGatewayWebsocketProxyRequest {
	auth := map[string]any{}
	for k, v := range req.AuthorizerContext {
		auth[k] = v
	}
	if req.PrincipalID != "" {
		auth["principalId"] = req.PrincipalID
	}
	rc := events.APIGatewayWebsocketProxyRequestContext{
		RouteKey:          req.RouteKey,
		EventType:         req.EventType,
		ConnectionID:      req.ConnectionID,
		MessageID:         req.MessageID,
		ConnectedAt:       req.ConnectedAt.UnixMilli(),
		RequestTimeEpoch:  req.RequestTime.UnixMilli(),
		RequestTime:       req.RequestTime.UTC().Format(RequestTimeLayout),
		DomainName:        req.DomainName,
		Stage:             req.Stage,
		APIID:             req.APIID,
		RequestID:         req.RequestID,
		ExtendedRequestID: req.ExtendedRequestID,
		MessageDirection:  "IN",
		Identity:          events.APIGatewayRequestIdentity{SourceIP: req.SourceIP, UserAgent: req.UserAgent},
		Authorizer:        auth,
	}
	if req.EventType == EventDisconnect {
		rc.DisconnectStatusCode = int64(req.DisconnectStatusCode)
		rc.DisconnectReason = &req.DisconnectReason
	}
	ev := events.APIGatewayWebsocketProxyRequest{RequestContext: rc, IsBase64Encoded: req.IsBase64Encoded, StageVariables: req.StageVariables}
	if req.EventType == EventConnect {
		ev.Headers, ev.MultiValueHeaders = lastAndAll(req.Headers)
		ev.QueryStringParameters, ev.MultiValueQueryStringParameters = lastAndAll(req.Query)
	}
	if req.EventType == EventMessage {
		if req.IsBase64Encoded {
			ev.Body = base64.StdEncoding.EncodeToString(req.Body)
		} else {
			ev.Body = string(req.Body)
		}
	}
	return ev
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
