package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// command is one of wsgate's commands, as the usage lists it.
type command struct {
	name, summary, about string
}

// commands lists every command in the order the usage shows them.
var commands = []command{
	{"serve", "run the gateway from a YAML config or a CloudFormation template",
		"Runs the self-hosted WebSocket gateway (API Gateway's contract) until SIGINT or SIGTERM.\n" +
			"Without --config or --template it runs the embedded default: a cookie-authenticated echo\n" +
			"API with the public development key."},
	{"dev", "run gateway, cookie authorizer and reference chat over TLS on loopback",
		"Runs the whole system on loopback: the gateway with the built-in cookie authorizer (a\n" +
			"fresh key), TLS from a local CA, @connections, and the reference chat backend and page."},
	{"token", "mint a JWT cookie and CSRF token that a config's cookie authorizer admits",
		"Mints a JWT and CSRF token for the cookie authorizer of a config (the embedded default,\n" +
			"--config or --template), signed with the key the gateway verifies with, and prints the\n" +
			"Cookie header, the CSRF token, and wscat and curl lines that connect with them."},
	{"demo", "decide sample $connect handshakes with a freshly generated key",
		"Decides real-shaped $connect handshakes (logged in, no login, cross-site hijacking,\n" +
			"tossed cookies, expired) as the Lambda authorizer would; its log names the deciding check."},
	{"authorize", "decide one REQUEST authorizer event (JSON on stdin), configured by WSGATE_*",
		"Reads one API Gateway REQUEST authorizer event from stdin and prints the Lambda\n" +
			"authorizer's answer; configured by the same WSGATE_* variables as the Lambda."},
	{"version", "print the version, the commit it was built from and the Go version", "Prints wsgate's build information (also: wsgate --version)."},
	{"help", "print the usage of wsgate or of one command", "wsgate help COMMAND prints that command's usage with every flag."},
}

func commandNames() []string {
	names := make([]string, len(commands))
	for i, c := range commands {
		names[i] = c.name
	}
	return names
}

func lookupCommand(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// printUsage writes the top-level usage.
func printUsage(w io.Writer) {
	var b strings.Builder
	b.WriteString("wsgate: a self-hosted API Gateway WebSocket gateway and its cookie authorizer\n\n")
	b.WriteString("usage: wsgate COMMAND [flags]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-10s %s\n", c.name, c.summary)
	}
	b.WriteString("\nRun 'wsgate help COMMAND' (or 'wsgate COMMAND --help') for a command's flags;\n")
	b.WriteString("'wsgate --version' prints the version. Exit status: 0 success, 1 failure, 2 usage error.\n")
	_, _ = io.WriteString(w, b.String())
}

// errHelp is returned by a command whose usage was asked for (-h, --help) and printed;
// run turns it into success.
var errHelp = errors.New("help requested")

// usageError is a command line wsgate cannot run: an unknown command or flag, a bad flag
// value, an unexpected argument. main exits 2 on it.
type usageError struct {
	// cmd is the command whose usage applies, "" for the top level.
	cmd string
	msg string
}

func (e *usageError) Error() string { return e.msg }

// hint says where the usage is.
func (e *usageError) hint() string {
	if e.cmd == "" {
		return "run 'wsgate help' for usage"
	}
	return "run 'wsgate help " + e.cmd + "' for usage"
}

// newFlagSet is a command's flag set: it prints nothing itself; parseFlags prints the
// usage when asked and turns errors into usage errors with suggestions.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseFlags parses args into fs. -h or --help prints the command's usage to stdout and
// returns errHelp; an unknown flag, a bad value or a positional argument is a
// *usageError, with "did you mean" for a misspelt flag.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	err := fs.Parse(args)
	switch {
	case err == nil:
		if fs.NArg() > 0 {
			return &usageError{cmd: fs.Name(), msg: fmt.Sprintf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
		}
		return nil
	case errors.Is(err, flag.ErrHelp):
		printCommandUsage(stdout, fs)
		return errHelp
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		name = strings.TrimLeft(name, "-")
		msg = fmt.Sprintf("%s: unknown flag --%s", fs.Name(), name)
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		if s := suggest(name, names); len(s) > 0 {
			msg += fmt.Sprintf("; did you mean %q?", "--"+s[0])
		}
	} else {
		msg = fs.Name() + ": " + msg
	}
	return &usageError{cmd: fs.Name(), msg: msg}
}

// printCommandUsage writes a command's usage: what it does and every flag with its
// default.
func printCommandUsage(w io.Writer, fs *flag.FlagSet) {
	var b strings.Builder
	c, _ := lookupCommand(fs.Name())
	fmt.Fprintf(&b, "usage: wsgate %s [flags]\n\n", fs.Name())
	if c.about != "" {
		b.WriteString(c.about + "\n\n")
	}
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		b.WriteString("It takes no flags.\n")
		_, _ = io.WriteString(w, b.String())
		return
	}
	b.WriteString("flags:\n")
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(&b, "  --%s", f.Name)
		if arg != "" {
			b.WriteString(" " + strings.ToUpper(arg))
		}
		b.WriteString("\n      " + strings.ReplaceAll(usage, "\n", "\n      "))
		switch f.DefValue {
		case "", "false", "0", "0s", "[]":
		default:
			fmt.Fprintf(&b, " (default %s)", f.DefValue)
		}
		b.WriteString("\n")
	})
	b.WriteString("  -h, --help\n      print this usage and exit\n")
	_, _ = io.WriteString(w, b.String())
}
