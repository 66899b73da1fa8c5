package server

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/lambdarun"
)

var _ LambdaInvoker = (*lambdarun.Runtime)(nil)

// startFunctions is the local Lambda runtime of cfg.Functions (docs/lambda.md): the
// invoker of authorizers and AWS_PROXY integrations, passing functions it does not run
// to deps.Lambda (the Lambda client of Server.Lambda) when there is one.
func startFunctions(cfg *config.Config, deps Deps) (*lambdarun.Runtime, error) {
	nm := deps.FunctionsNodeModules
	if nm == "" {
		nm = deps.Getenv("WSGATE_LAMBDA_NODE_MODULES")
	}
	o := lambdarun.Options{
		Functions:   cfg.Functions,
		Region:      cfg.Server.Lambda.Region,
		AccountID:   cfg.Server.AccountID,
		Logger:      deps.Logger.With("component", "lambda"),
		Getenv:      deps.Getenv,
		CAFile:      deps.FunctionsCAFile,
		NodeModules: nm,
		Watch:       deps.WatchFunctions,
	}
	if deps.Lambda != nil {
		o.Remote = deps.Lambda
	}
	return lambdarun.New(o)
}

// closeFunctionsTimeout bounds stopping the functions' processes at shutdown.
const closeFunctionsTimeout = 10 * time.Second

func closeFunctions(rt *lambdarun.Runtime, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), closeFunctionsTimeout)
	defer cancel()
	if err := rt.Close(ctx); err != nil {
		log.Warn("lambda: stopping functions", "error", err.Error())
	}
}

// notStarted is the Lambda invoker of a gateway built without Serve (--check-config):
// the config's local functions are checked, not started, so invoking one fails.
type notStarted struct{}

func (notStarted) Invoke(context.Context, *lambda.InvokeInput, ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	return nil, errors.New("lambda: local functions run under Serve only")
}
