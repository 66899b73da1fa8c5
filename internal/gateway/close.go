package gateway

// Close codes the gateway sends, in one place. A client's own close code is reported to
// $disconnect as it was sent; a connection that ends without a close frame is reported
// as 1006.
const (
	// CloseNormal: the connection was deleted through @connections.
	CloseNormal = 1000
	// CloseGoingAway: idle timeout, maximum connection duration, or server shutdown.
	CloseGoingAway = 1001
	// CloseProtocolError: the client broke the WebSocket protocol (for instance a 64-bit
	// payload length with its most significant bit set).
	CloseProtocolError = 1002
	// CloseUnsupportedData: a binary frame while binary frames are not allowed.
	CloseUnsupportedData = 1003
	// CloseAbnormal is never sent: it reports a connection lost without a close frame.
	CloseAbnormal = 1006
	// CloseInvalidPayload: a text frame that is not UTF-8.
	CloseInvalidPayload = 1007
	// ClosePolicyViolation: the credential the connection was admitted with expired
	// (CloseOnCredentialExpiry, a wsgate extension).
	ClosePolicyViolation = 1008
	// CloseMessageTooBig: a message over MaxMessageBytes.
	CloseMessageTooBig = 1009
	// CloseInternalError: the gateway failed, for instance a bug recovered from in the
	// connection's reader (a slow reader whose write timed out is closed this way too, as
	// the close frame cannot reach it).
	CloseInternalError = 1011
)

// Close reasons sent with the codes above (short: a close reason is at most 123 bytes).
const (
	reasonDeleted          = "Connection deleted"
	reasonIdle             = "Idle timeout"
	reasonMaxDuration      = "Maximum connection duration reached"
	reasonShutdown         = "Server shutting down"
	reasonBinary           = "Binary frames are not supported"
	reasonCredentialExpiry = "Credential expired"
	reasonWriteTimeout     = "Write timeout"
	reasonBadLength        = "Invalid frame length"
	reasonInternalError    = "Internal error"
)
