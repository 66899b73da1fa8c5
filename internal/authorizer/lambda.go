package authorizer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"github.com/wsgate/wsgate/authevent"
)

// DefaultTimeout bounds one authorizer call when a constructor is given no timeout.
// AWS documents no separate authorizer timeout for WebSocket APIs; 10 s is ours.
const DefaultTimeout = 10 * time.Second

// unauthorizedMessage is the function error message API Gateway answers 401 to.
const unauthorizedMessage = "Unauthorized"

// LambdaInvoker invokes a Lambda function; *lambda.Client is one.
type LambdaInvoker interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, opts ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

var _ LambdaInvoker = (*lambda.Client)(nil)

// Lambda is a Lambda REQUEST authorizer. It is safe for concurrent use.
type Lambda struct {
	inv      LambdaInvoker
	function string
	timeout  time.Duration
}

var _ Authorizer = (*Lambda)(nil)

// NewLambda returns the authorizer that invokes function (a name, ARN or partial ARN,
// with an optional alias or version qualifier) through inv, synchronously, for at most
// timeout per call (timeout <= 0: DefaultTimeout, retries included). The caller sets the
// client's endpoint, region, credentials and retry policy: a real region and a local
// Invoke-compatible endpoint both work.
func NewLambda(inv LambdaInvoker, function string, timeout time.Duration) *Lambda {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Lambda{inv: inv, function: function, timeout: timeout}
}

// functionError is the payload of a failed invocation, as Lambda runtimes write it.
type functionError struct {
	ErrorMessage string `json:"errorMessage"`
	ErrorType    string `json:"errorType"`
}

// Authorize invokes the function with the event as its JSON payload. A function error
// whose errorMessage is exactly "Unauthorized" is Unauthorized (401); any other function
// error, an invoke error, a timeout, an answer over 8 KB or an invalid answer is Failed
// (500); a policy that denies the method ARN, or does not allow it, is Forbidden (403);
// otherwise Allow with the answer's principal and context.
func (l *Lambda) Authorize(ctx context.Context, ev *authevent.Event) Result {
	if ev == nil {
		return failed("no authorizer event")
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return failed("encode authorizer event: " + err.Error())
	}
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	out, err := l.inv.Invoke(ctx, &lambda.InvokeInput{
		FunctionName:   aws.String(l.function),
		InvocationType: types.InvocationTypeRequestResponse,
		Payload:        payload,
	})
	switch {
	case err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return failed(fmt.Sprintf("lambda authorizer timed out after %v", l.timeout))
	case err != nil:
		return failed("lambda authorizer invoke failed: " + invokeErrorReason(err))
	case out.FunctionError != nil:
		var fe functionError
		_ = json.Unmarshal(out.Payload, &fe) // an unreadable error payload is a plain failure
		if fe.ErrorMessage == unauthorizedMessage {
			return Result{Outcome: Unauthorized, Reason: "lambda authorizer answered Unauthorized"}
		}
		// The error message may echo anything the function saw: only its type is logged.
		return failed(fmt.Sprintf("lambda authorizer function error (%s, errorType %q)",
			truncate(aws.ToString(out.FunctionError), 32), truncate(fe.ErrorType, 64)))
	case len(out.Payload) > authevent.MaxResultBytes:
		return failed(fmt.Sprintf("lambda authorizer result of %d bytes exceeds %d", len(out.Payload), authevent.MaxResultBytes))
	}
	resp, err := authevent.ParseResponse(out.Payload)
	if err != nil {
		return failed("lambda authorizer result invalid: " + truncate(err.Error(), 200))
	}
	return fromResponse(resp, ev.MethodArn)
}

// invokeErrorReason names an Invoke failure: the service's error code when Lambda
// answered one, else the transport error. Neither holds the payload.
func invokeErrorReason(err error) string {
	if apiErr, ok := errors.AsType[smithy.APIError](err); ok {
		return apiErr.ErrorCode()
	}
	return truncate(err.Error(), 200)
}
