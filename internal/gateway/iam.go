package gateway

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/wsgate/wsgate/authevent"
	"github.com/wsgate/wsgate/internal/authorizer"
	"github.com/wsgate/wsgate/internal/integration"
)

// The outcomes of a $connect refused by AWS_IAM authorization.
const (
	// outcomeIAMUnsigned is a handshake with no signature at all.
	outcomeIAMUnsigned outcome = "iam_unsigned"
	// outcomeIAMDenied is a signature that was not accepted: malformed, an unknown key,
	// out of its time window, or not matching the request.
	outcomeIAMDenied outcome = "iam_denied"
)

// IAMVerifier checks the SigV4 signature of a $connect whose AuthorizationType is
// AWS_IAM (*authorizer.IAM is one). It returns who signed, or an *authorizer.IAMError.
type IAMVerifier interface {
	VerifyIAM(r *http.Request) (*integration.IAMIdentity, error)
}

var _ IAMVerifier = (*authorizer.IAM)(nil)

// presignParams are the query parameters of a presigned handshake URL. They are not
// handed to the $connect integration: with them anyone could open connections as the
// signer until the URL expires (up to seven days), and events are often logged. The
// integration sees who signed in requestContext.identity instead.
var presignParams = []string{
	"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
	"X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token",
}

// iamRefused runs AWS_IAM authorization when $connect has it: a handshake without a
// valid SigV4 signature is refused with 403 and a {"message": ...} body; an accepted one
// gives the connection its identity and loses the signature's query parameters from ev.
// It reports whether it refused.
func (g *Gateway) iamRefused(w http.ResponseWriter, r *http.Request, c *Conn, ev *authevent.Event, start time.Time) bool {
	if g.iam == nil {
		return false
	}
	id, err := g.iam.VerifyIAM(r)
	if err != nil {
		f := &refusal{status: http.StatusForbidden, outcome: outcomeIAMDenied, reason: "signature not accepted", err: err, message: "Forbidden"}
		var ie *authorizer.IAMError
		if errors.As(err, &ie) {
			f.message, f.err = ie.Message, ie.Err
			if ie.Unsigned {
				f.outcome, f.reason = outcomeIAMUnsigned, "signature missing"
			}
		}
		g.refuse(w, r, c, f, start)
		return true
	}
	c.iam = id
	stripPresign(ev)
	return false
}

// stripPresign removes the presigned URL's parameters from the event's query maps,
// which become null, as for a URL without a query, when nothing else is left.
func stripPresign(ev *authevent.Event) {
	for _, k := range presignParams {
		delete(ev.QueryStringParameters, k)
		delete(ev.MultiValueQueryStringParameters, k)
	}
	if len(ev.QueryStringParameters) == 0 {
		ev.QueryStringParameters, ev.MultiValueQueryStringParameters = nil, nil
	}
}

// messageBody is the JSON body of a refusal with a message, as API Gateway writes its
// gateway responses: {"message":"..."}.
func messageBody(msg string) []byte {
	b, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{msg})
	return b
}
