// Command wsgate is the wsgate tool:
//
//	wsgate serve       run the self-hosted WebSocket gateway (API Gateway's contract)
//	wsgate dev         run the gateway, the cookie authorizer and the reference chat
//	                   (backend and page) over TLS on loopback, with generated keys
//	wsgate token       mint a development JWT + CSRF token for the default config
//	wsgate demo        decide real-shaped $connect handshakes with an embedded dev key
//	wsgate authorize   decide one API Gateway REQUEST authorizer event read from stdin,
//	                   configured by the same WSGATE_* variables as the Lambda
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "wsgate: %v\n", err)
		os.Exit(1)
	}
}

const usage = `usage:
  wsgate serve [--config FILE] [--check-config] [--log-level L]
                       run the gateway (default config: a cookie-authenticated echo API)
  wsgate token [--sub NAME] [--ttl D]
                       mint a development-key JWT and CSRF token for the default config
  wsgate dev [--ui-port P] [--ws-port P] [--env NAME]
                       run gateway + cookie authorizer + reference chat over TLS on loopback
  wsgate demo          decide sample $connect handshakes with an embedded dev key
  wsgate authorize     decide one REQUEST authorizer event (JSON on stdin); WSGATE_* configure it
`

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("a command is required")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], getenv, stdout, stderr)
	case "token":
		return token(args[1:], stdout, stderr)
	case "dev":
		return dev(ctx, args[1:], getenv, stdout, stderr)
	case "demo":
		return demo(ctx, stdout, stderr)
	case "authorize":
		return authorize(ctx, getenv, stdin, stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}
