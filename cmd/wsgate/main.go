// Command wsgate is the wsgate tool:
//
//	wsgate serve       run the self-hosted WebSocket gateway (API Gateway's contract)
//	wsgate dev         run the gateway, the cookie authorizer and the reference chat
//	                   (backend and page) over TLS on loopback, with generated keys
//	wsgate token       mint a JWT + CSRF token that a config's cookie authorizer admits
//	wsgate demo        decide real-shaped $connect handshakes with a generated key
//	wsgate authorize   decide one API Gateway REQUEST authorizer event read from stdin,
//	                   configured by the same WSGATE_* variables as the Lambda
//	wsgate version     print the build information
//
// docs/cli.md lists every flag and the exit statuses.
package main

import (
	"context"
	"errors"
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
	os.Exit(report(err, os.Stderr))
}

// report writes err to stderr and returns the exit status: 0 without an error, 2 for a
// command line wsgate cannot run (with where the usage is), 1 for any other failure.
func report(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "wsgate: %v\n", err)
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "wsgate: %s\n", ue.hint())
		return 2
	}
	return 1
}

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	err := dispatch(ctx, args, getenv, stdin, stdout, stderr)
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

func dispatch(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		printUsage(stderr)
		return &usageError{msg: "a command is required"}
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], getenv, stdout, stderr)
	case "token":
		return token(args[1:], getenv, stdout)
	case "dev":
		return dev(ctx, args[1:], getenv, stdout, stderr)
	case "demo":
		return demo(ctx, args[1:], stdout, stderr)
	case "authorize":
		return authorize(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "version", "--version", "-version":
		return version(args[1:], stdout)
	case "help", "-h", "--help", "-help":
		if len(args) == 1 {
			printUsage(stdout)
			return nil
		}
		if _, ok := lookupCommand(args[1]); !ok {
			return unknownCommand(args[1])
		}
		if args[1] == "help" {
			printUsage(stdout)
			return nil
		}
		return dispatch(ctx, []string{args[1], "--help"}, getenv, stdin, stdout, stderr)
	}
	return unknownCommand(args[0])
}

func unknownCommand(name string) error {
	msg := fmt.Sprintf("unknown command %q", name)
	if s := suggest(name, commandNames()); len(s) > 0 {
		msg += fmt.Sprintf("; did you mean %q?", s[0])
	}
	return &usageError{msg: msg}
}
