// Command authorizer is wsgate's cookie authorizer as an AWS Lambda REQUEST authorizer
// for an API Gateway WebSocket API's $connect route (custom runtime, provided.al2023).
// It is configured by WSGATE_* environment variables (see package lambdaauth). Build it
// with `make authorizer`: a binary named bootstrap, -tags lambda.norpc.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/wsgate/wsgate/lambdaauth"
)

func main() {
	h, err := lambdaauth.NewFromEnv(context.Background(), os.Getenv, lambdaauth.Deps{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "wsgate-authorizer: %v\n", err)
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}
