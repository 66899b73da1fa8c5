package mgmt

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/wsgate/wsgate/internal/cluster"
)

// Error codes: the X-Amzn-ErrorType values the SDKs decode. The first four are the
// modelled errors of apigatewaymanagementapi; the SDKs turn them into typed errors
// (types.GoneException, ...). The SigV4 ones are the codes API Gateway's front end sends
// for its INVALID_SIGNATURE, EXPIRED_TOKEN, MISSING_AUTHENTICATION_TOKEN gateway
// responses; the SDKs surface them as generic API errors with that code.
const (
	CodeGone                       = "GoneException"
	CodeForbidden                  = "ForbiddenException"
	CodePayloadTooLarge            = "PayloadTooLargeException"
	CodeLimitExceeded              = "LimitExceededException"
	CodeInvalidSignature           = "InvalidSignatureException"
	CodeIncompleteSignature        = "IncompleteSignatureException"
	CodeUnrecognizedClient         = "UnrecognizedClientException"
	CodeMissingAuthenticationToken = "MissingAuthenticationTokenException"
	CodeInternal                   = "InternalServerErrorException"
	// CodeBadRequest is ours: a request body that could not be read (too slow for the
	// listener's ReadTimeout, or malformed). The SDKs surface it as a generic API error.
	CodeBadRequest = "BadRequestException"
)

// Messages sent to clients where AWS's text is known (see the report on the issue for
// sources) or chosen by us.
const (
	msgForbidden         = "Forbidden"                    // AWS, unknown stage or path
	msgMissingAuth       = "Missing Authentication Token" // AWS
	msgBadSignature      = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgUnknownKey        = "The security token included in the request is invalid." // AWS
	msgGone              = "Connection is gone"                                     // ours: AWS sends no useful text
	msgPayloadTooLarge   = "Request Too Long"                                       // AWS REQUEST_TOO_LARGE gateway response
	msgLimitExceeded     = "Too Many Requests"                                      // AWS THROTTLED gateway response
	msgInternal          = "Internal server error"                                  // AWS
	msgIncompleteAuthFmt = "Authorization header requires '%s' parameter."          // AWS, without the echo of the header
	msgBadBody           = "The request body could not be read."                    // ours
)

// Error is a failed @connections request: Code is the AWS error type, Message is safe to
// show the client, Err is the cause for the log (never sent).
type Error struct {
	Code    string
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Message + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// newError is shorthand for an *Error with a cause.
func newError(code, message string, cause error) *Error {
	return &Error{Code: code, Message: message, Err: cause}
}

// asError turns any error from a handler or the cluster into an *Error.
func asError(err error) *Error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, cluster.ErrGone):
		return newError(CodeGone, msgGone, err)
	case errors.Is(err, cluster.ErrPayloadTooLarge):
		return newError(CodePayloadTooLarge, msgPayloadTooLarge, err)
	case errors.Is(err, cluster.ErrLimitExceeded):
		return newError(CodeLimitExceeded, msgLimitExceeded, err)
	default:
		return newError(CodeInternal, msgInternal, err)
	}
}

// status is the HTTP status of an error code.
func status(code string) int {
	switch code {
	case CodeGone:
		return http.StatusGone
	case CodePayloadTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeLimitExceeded:
		return http.StatusTooManyRequests
	case CodeBadRequest:
		return http.StatusBadRequest
	case CodeForbidden, CodeInvalidSignature, CodeIncompleteSignature,
		CodeUnrecognizedClient, CodeMissingAuthenticationToken:
		return http.StatusForbidden
	default:
		return http.StatusInternalServerError
	}
}

// writeError sends e as AWS does: the status, X-Amzn-ErrorType and a JSON body
// {"message": "..."} whose message is never null. It returns the status.
func writeError(w http.ResponseWriter, e *Error) int {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(status(e.Code))
	}
	body, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{msg}) // cannot fail: one string field
	code := status(e.Code)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-ErrorType", e.Code)
	w.WriteHeader(code)
	_, _ = w.Write(body)
	return code
}
