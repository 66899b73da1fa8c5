package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
)

// logFlags are --log-format and --log-level, shared by every command that logs.
type logFlags struct {
	format, level string
}

// addLogFlags defines --log-format and --log-level on fs.
func addLogFlags(fs *flag.FlagSet) *logFlags {
	l := &logFlags{}
	fs.StringVar(&l.format, "log-format", "auto", "log `format`: text, json, or auto (text when stderr is a terminal, else json)")
	fs.StringVar(&l.level, "log-level", "info", "log `level`: debug, info, warn or error")
	return l
}

// logTimeFormat is the timestamp of both formats: RFC 3339, UTC, milliseconds.
const logTimeFormat = "2006-01-02T15:04:05.000Z07:00"

// logger builds the logger the flags describe, writing to w.
func (l *logFlags) logger(cmd string, w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(l.level)); err != nil {
		return nil, &usageError{cmd: cmd, msg: fmt.Sprintf("%s: --log-level %q: want debug, info, warn or error", cmd, l.level)}
	}
	format := l.format
	if format == "auto" {
		format = "json"
		if isTerminal(w) {
			format = "text"
		}
	}
	opts := &slog.HandlerOptions{Level: lvl, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey && a.Value.Kind() == slog.KindTime {
			a.Value = slog.StringValue(a.Value.Time().UTC().Format(logTimeFormat))
		}
		return a
	}}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, &usageError{cmd: cmd, msg: fmt.Sprintf("%s: --log-format %q: want text, json or auto", cmd, l.format)}
}

// isJSON reports whether the logger the flags describe for w writes JSON.
func (l *logFlags) isJSON(w io.Writer) bool {
	return l.format == "json" || (l.format == "auto" && !isTerminal(w))
}

// isTerminal reports whether w is a terminal (a character device). golang.org/x/term
// would ask the kernel with an ioctl, but it is not among this module's dependencies;
// the file mode check is what it would tell apart in practice (a pipe, a file or
// /dev/null is not a terminal; /dev/null is a character device, which only makes
// the logs text).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
