package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// LambdaCustom is an AWS integration (Lambda custom, non-proxy): the function receives
// the selected request template's output — or, when none is selected, the message
// body as is (AWS's default PassthroughBehavior for WebSocket APIs, WHEN_NO_MATCH) —
// and its result payload, unparsed, is the integration response body, which the
// integration responses transform.
//
// A function error (X-Amz-Function-Error) is an answer, not a failure, once the
// integration has integration responses: its errorMessage selects the integration
// response by the regular-expression keys ($integration.response.body.errorMessage),
// and the error payload is the body its template sees. The answer's StatusCode is 500
// then (so a $connect refuses), 200 on success. Without integration responses a
// function error fails the invocation, as for AWS_PROXY.
type LambdaCustom struct {
	invoker   LambdaInvoker
	function  string
	timeout   time.Duration
	templates *templates
	responses *responses
}

var _ Integration = (*LambdaCustom)(nil)

// Invoke invokes the function once (RequestResponse).
func (l *LambdaCustom) Invoke(ctx context.Context, req *Request) (*Response, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	payload := req.Body
	if out, ok, err := l.templates.render(req); err != nil {
		return nil, fmt.Errorf("request template: %w", err)
	} else if ok {
		payload = out
	}
	out, err := l.invoker.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(l.function), Payload: payload})
	if err != nil {
		return nil, fmt.Errorf("invoking %s: %w", l.function, err)
	}
	resp := &Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: out.Payload}
	if out.FunctionError == nil {
		if err := l.responses.apply(req, resp, "", false); err != nil {
			return nil, err
		}
		return resp, nil
	}
	if l.responses == nil {
		return nil, fmt.Errorf("function %s failed (%s)", l.function, aws.ToString(out.FunctionError))
	}
	resp.StatusCode = http.StatusInternalServerError
	if err := l.responses.apply(req, resp, lambdaErrorMessage(out.Payload), true); err != nil {
		return nil, fmt.Errorf("function %s failed (%s): %w", l.function, aws.ToString(out.FunctionError), err)
	}
	return resp, nil
}

// lambdaErrorMessage is the errorMessage of a Lambda error payload
// ({"errorMessage": ..., "errorType": ..., "stackTrace": [...]}); "" when it has none.
func lambdaErrorMessage(payload []byte) string {
	var e struct {
		ErrorMessage any `json:"errorMessage"`
	}
	if json.Unmarshal(payload, &e) != nil {
		return ""
	}
	switch m := e.ErrorMessage.(type) {
	case string:
		return m
	case nil:
		return ""
	default:
		b, _ := json.Marshal(m)
		return string(b)
	}
}
