// Package accesslog writes a stage's access log as API Gateway does: one line per
// event (CONNECT, each MESSAGE, DISCONNECT) rendered from the stage's
// AccessLogSettings.Format, whose $context variables are replaced by the event's
// values. A variable with no value renders as "-"; a value inside a JSON string of the
// format is escaped so that the line stays valid JSON.
package accesslog

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// MaxFormatBytes bounds a Format; API Gateway's limit is 3 KB.
const MaxFormatBytes = 3 * 1024

// missing is what a variable without a value renders as.
const missing = "-"

// Format is a compiled access log format.
type Format struct {
	parts []part
}

// part is a literal, or (name set) a $context variable and whether it sits inside a
// JSON string of the format.
type part struct {
	lit      string
	name     string
	inString bool
}

// Compile compiles an AccessLogSettings.Format. Every "$context." followed by a name
// (letters, digits, '_' and '.', not ending in '.') is a variable; everything else is
// copied as is. A format must be one line, hold at least one variable and be at most
// MaxFormatBytes, as API Gateway requires.
func Compile(format string) (*Format, error) {
	switch {
	case format == "":
		return nil, errors.New("empty")
	case len(format) > MaxFormatBytes:
		return nil, fmt.Errorf("%d bytes, at most %d", len(format), MaxFormatBytes)
	case strings.ContainsAny(format, "\r\n"):
		return nil, errors.New("holds a line break: each event is one line")
	case !utf8.ValidString(format):
		return nil, errors.New("not UTF-8")
	}
	const prefix = "$context."
	f := &Format{}
	inString, escaped := false, false
	lit := 0 // start of the current literal
	for i := 0; i < len(format); {
		if strings.HasPrefix(format[i:], prefix) {
			j := i + len(prefix)
			for j < len(format) && isNameByte(format[j]) {
				j++
			}
			for j > i+len(prefix) && format[j-1] == '.' {
				j--
			}
			if j > i+len(prefix) {
				if lit < i {
					f.parts = append(f.parts, part{lit: format[lit:i]})
				}
				f.parts = append(f.parts, part{name: format[i+len(prefix) : j], inString: inString})
				i, lit, escaped = j, j, false
				continue
			}
		}
		switch c := format[i]; {
		case escaped:
			escaped = false
		case c == '\\' && inString:
			escaped = true
		case c == '"':
			inString = !inString
		}
		i++
	}
	if lit < len(format) {
		f.parts = append(f.parts, part{lit: format[lit:]})
	}
	if !f.hasVariable() {
		return nil, errors.New("holds no $context variable")
	}
	return f, nil
}

func (f *Format) hasVariable() bool {
	for _, p := range f.parts {
		if p.name != "" {
			return true
		}
	}
	return false
}

// Variables returns the names of the format's variables, in order, without "$context.".
func (f *Format) Variables() []string {
	var names []string
	for _, p := range f.parts {
		if p.name != "" {
			names = append(names, p.name)
		}
	}
	return names
}

func isNameByte(c byte) bool {
	return c == '_' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// Render appends the line for r (without the newline) to dst.
func (f *Format) Render(dst []byte, r *Record) []byte {
	for _, p := range f.parts {
		if p.name == "" {
			dst = append(dst, p.lit...)
			continue
		}
		v, ok := r.Value(p.name)
		if !ok || v == "" {
			v = missing
		}
		switch {
		case p.inString:
			dst = appendEscaped(dst, v)
		default:
			dst = appendPlain(dst, v)
		}
	}
	return dst
}

// appendEscaped appends v escaped for the inside of a JSON string: '"' and '\\' with
// a backslash, control characters and U+2028/U+2029 as \u escapes, bytes that are not
// UTF-8 as U+FFFD.
func appendEscaped(dst []byte, v string) []byte {
	const hex = "0123456789abcdef"
	for _, r := range v {
		switch {
		case r == '"' || r == '\\':
			dst = append(dst, '\\', byte(r))
		case r == '\n':
			dst = append(dst, '\\', 'n')
		case r == '\r':
			dst = append(dst, '\\', 'r')
		case r == '\t':
			dst = append(dst, '\\', 't')
		case r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029':
			dst = append(dst, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
		default:
			dst = utf8.AppendRune(dst, r)
		}
	}
	return dst
}

// appendPlain appends v outside a JSON string: as is, but control bytes (a line break
// above all) become spaces, so that an event is always one line.
func appendPlain(dst []byte, v string) []byte {
	for _, r := range v {
		if r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' || r == utf8.RuneError {
			r = ' '
		}
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}

// Logger writes rendered events to a writer, one line each, whole lines at a time.
type Logger struct {
	format *Format
	mu     sync.Mutex
	w      io.Writer
	closer io.Closer
}

// New returns a Logger writing f's lines to w.
func New(f *Format, w io.Writer) *Logger { return &Logger{format: f, w: w} }

// Open returns a Logger writing f's lines to path: standard output when path is "" or
// "-", else the file, created with mode 0600 if need be and appended to.
func Open(f *Format, path string, stdout io.Writer) (*Logger, error) {
	if path == "" || path == "-" {
		return New(f, stdout), nil
	}
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("access log: %w", err)
	}
	l := New(f, file)
	l.closer = file
	return l, nil
}

// Log writes the line of r. A failed write is dropped: the access log never stops
// the gateway.
func (l *Logger) Log(r *Record) {
	b := l.format.Render(make([]byte, 0, 512), r)
	b = append(b, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.w.Write(b)
}

// Close closes the file the Logger writes to, if it opened one.
func (l *Logger) Close() error {
	if l.closer == nil {
		return nil
	}
	return l.closer.Close()
}

// Record is one event's values, each named by the $context variable it fills. A zero
// value is a missing one and renders as "-" (IntegrationLatency: unless
// IntegrationRan). It holds no header but the User-Agent, no cookie, token or query
// string.
type Record struct {
	RequestID    string
	EventType    string // CONNECT, MESSAGE or DISCONNECT
	RouteKey     string
	ConnectionID string
	MessageID    string
	Status       int    // the status API Gateway reports: 200, or the refusal's
	Error        string // error.message: the message the client got, e.g. "Forbidden"
	SourceIP     string
	UserAgent    string
	RequestTime  time.Time
	ConnectedAt  time.Time
	Stage        string
	APIID        string
	DomainName   string
	// IAM is who signed the handshake of an AWS_IAM connection; zero otherwise.
	IAM IAMIdentity

	PrincipalID        string
	AuthorizerContext  AuthContext
	AuthorizerError    string // authorizer.error: "Unauthorized", "Forbidden", ...
	AuthorizerStatus   int
	AuthorizerLatency  time.Duration // authorizer.latency: meaningful when AuthorizerRan
	AuthorizerRan      bool
	IntegrationStatus  int
	IntegrationLatency time.Duration // integrationLatency: meaningful when IntegrationRan
	IntegrationRan     bool
	IntegrationError   string // integrationErrorMessage

	DisconnectStatusCode int // DISCONNECT: the close code
	DisconnectReason     string
}

// IAMIdentity is $context.identity's IAM caller fields (AWS_IAM on $connect).
type IAMIdentity struct {
	AccessKey, AccountID, Caller, User, UserArn string
}

// RequestTimeLayout is $context.requestTime's format.
const RequestTimeLayout = "02/Jan/2006:15:04:05 -0700"

// Value returns the $context variable name (without "$context.") of r, or false when r
// has none.
func (r *Record) Value(name string) (string, bool) {
	str := func(s string) (string, bool) { return s, s != "" }
	num := func(n int) (string, bool) { return strconv.Itoa(n), n != 0 }
	switch name {
	case "requestId", "extendedRequestId":
		return str(r.RequestID)
	case "eventType":
		return str(r.EventType)
	case "routeKey":
		return str(r.RouteKey)
	case "connectionId":
		return str(r.ConnectionID)
	case "messageId":
		return str(r.MessageID)
	case "messageDirection":
		return "IN", true
	case "status":
		return num(r.Status)
	case "error.message":
		return str(r.Error)
	case "error.messageString":
		if r.Error == "" {
			return "", false
		}
		return string(append(appendEscaped([]byte{'"'}, r.Error), '"')), true
	case "identity.sourceIp":
		return str(r.SourceIP)
	case "identity.userAgent":
		return str(r.UserAgent)
	case "identity.accessKey":
		return str(r.IAM.AccessKey)
	case "identity.accountId":
		return str(r.IAM.AccountID)
	case "identity.caller":
		return str(r.IAM.Caller)
	case "identity.user":
		return str(r.IAM.User)
	case "identity.userArn":
		return str(r.IAM.UserArn)
	case "requestTime":
		if r.RequestTime.IsZero() {
			return "", false
		}
		return r.RequestTime.UTC().Format(RequestTimeLayout), true
	case "requestTimeEpoch":
		if r.RequestTime.IsZero() {
			return "", false
		}
		return strconv.FormatInt(r.RequestTime.UnixMilli(), 10), true
	case "connectedAt":
		if r.ConnectedAt.IsZero() {
			return "", false
		}
		return strconv.FormatInt(r.ConnectedAt.UnixMilli(), 10), true
	case "stage":
		return str(r.Stage)
	case "apiId":
		return str(r.APIID)
	case "domainName":
		return str(r.DomainName)
	case "integrationStatus", "integration.status":
		return num(r.IntegrationStatus)
	case "integrationLatency", "integration.latency":
		if !r.IntegrationRan {
			return "", false
		}
		return strconv.FormatInt(r.IntegrationLatency.Milliseconds(), 10), true
	case "integrationErrorMessage", "integration.error":
		return str(r.IntegrationError)
	case "authorizer.principalId":
		return str(r.PrincipalID)
	case "authorizer.error", "authorize.error":
		return str(r.AuthorizerError)
	case "authorizer.status", "authorize.status", "authorizer.integrationStatus":
		return num(r.AuthorizerStatus)
	case "authorizer.latency", "authorize.latency", "authorizer.integrationLatency":
		if !r.AuthorizerRan {
			return "", false
		}
		return strconv.FormatInt(r.AuthorizerLatency.Milliseconds(), 10), true
	case "disconnectStatusCode":
		return num(r.DisconnectStatusCode)
	case "disconnectReason":
		return str(r.DisconnectReason)
	}
	if key, ok := strings.CutPrefix(name, "authorizer."); ok {
		v, ok := r.AuthorizerContext.Get(key)
		if !ok || v == nil {
			return "", false
		}
		return fmt.Sprint(v), true
	}
	return "", false
}
