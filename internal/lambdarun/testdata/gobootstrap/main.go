// Command gobootstrap is a provided.al2023 function built with aws-lambda-go, for the
// tests: it echoes the event with its context, and fails on {"fail": true}.
package main

import (
	"context"
	"errors"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type event struct {
	Fail bool   `json:"fail"`
	Echo string `json:"echo"`
}

func handle(ctx context.Context, ev event) (map[string]any, error) {
	if ev.Fail {
		return nil, errors.New("asked to fail")
	}
	lc, _ := lambdacontext.FromContext(ctx)
	dl, _ := ctx.Deadline()
	return map[string]any{"echo": ev.Echo, "requestId": lc.AwsRequestID, "arn": lc.InvokedFunctionArn,
		"function": lambdacontext.FunctionName, "hasDeadline": !dl.IsZero(), "pid": os.Getpid()}, nil
}

func main() { lambda.Start(handle) }
