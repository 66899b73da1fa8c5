package lambdaauth

import (
	"context"
	"errors"
	"log/slog"

	"github.com/wsgate/wsgate/cookieauth"
)

// ErrUnauthorized is the error a Lambda authorizer returns to make API Gateway answer
// 401: API Gateway matches exactly this message.
var ErrUnauthorized = errors.New("Unauthorized")

// ErrInternal is the error returned when no decision could be made (API Gateway answers
// 500). It says nothing about the cause, which is logged instead.
var ErrInternal = errors.New("authorizer error")

// AnonymousPrincipal is the principalId of a Deny whose decision has no principal.
// API Gateway requires a principalId on every policy answer.
const AnonymousPrincipal = "anonymous"

// Decider decides a handshake; *cookieauth.Authorizer is one.
type Decider interface {
	Decide(ctx context.Context, r cookieauth.Request) cookieauth.Decision
}

var _ Decider = (*cookieauth.Authorizer)(nil)

// Handler is a Lambda REQUEST authorizer for a WebSocket $connect route. It is safe for
// concurrent use.
type Handler struct {
	decider Decider
	logger  *slog.Logger
}

// New returns a Handler that decides with d and logs one line per decision to logger
// (nil: no logging).
func New(d Decider, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{decider: d, logger: logger}
}

// Handle answers one authorizer event: Allow → an Allow policy on the event's method
// ARN with the principal and context; Deny → a Deny policy (403); Unauthorized →
// [ErrUnauthorized] (401); anything else → [ErrInternal] (500). It logs one line per
// event with the outcome, the reason, requestId, connectionId and sourceIp, never a
// cookie, token or secret.
func (h *Handler) Handle(ctx context.Context, e Event) (Response, error) {
	var d cookieauth.Decision
	switch {
	case e.Type != EventTypeRequest:
		d = cookieauth.Decision{Outcome: cookieauth.Error, Reason: "event type is not REQUEST"}
	case e.MethodArn == "":
		d = cookieauth.Decision{Outcome: cookieauth.Error, Reason: "event has no methodArn"}
	default:
		d = h.decider.Decide(ctx, e.Request())
	}
	resp, err := h.answer(d, e.MethodArn)
	if err != nil && d.Outcome == cookieauth.Allow {
		d = cookieauth.Decision{Outcome: cookieauth.Error, Reason: "allow answer invalid: " + err.Error()}
		resp, err = Response{}, ErrInternal
	}
	h.log(ctx, e, d)
	return resp, err
}

func (h *Handler) answer(d cookieauth.Decision, methodArn string) (Response, error) {
	switch d.Outcome {
	case cookieauth.Allow:
		if d.PrincipalID == "" {
			return Response{}, errors.New("no principal")
		}
		r := AllowResponse(d.PrincipalID, methodArn, d.Context)
		if err := r.Validate(); err != nil {
			return Response{}, err
		}
		return r, nil
	case cookieauth.Deny:
		p := d.PrincipalID
		if p == "" {
			p = AnonymousPrincipal
		}
		return DenyResponse(p, methodArn), nil
	case cookieauth.Unauthorized:
		return Response{}, ErrUnauthorized
	default:
		return Response{}, ErrInternal
	}
}

func (h *Handler) log(ctx context.Context, e Event, d cookieauth.Decision) {
	level := slog.LevelInfo
	if d.Outcome == cookieauth.Error {
		level = slog.LevelError
	}
	rc := e.RequestContext
	h.logger.LogAttrs(ctx, level, "authorizer decision",
		slog.String("outcome", d.Outcome.String()),
		slog.String("reason", d.Reason),
		slog.String("requestId", rc.RequestID),
		slog.String("connectionId", rc.ConnectionID),
		slog.String("sourceIp", rc.Identity.SourceIP),
	)
}
