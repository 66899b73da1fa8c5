package config

import (
	"github.com/wsgate/wsgate/internal/accesslog"
)

// AccessLogSettings is a stage's access log (AWS::ApiGatewayV2::Stage
// AccessLogSettings).
type AccessLogSettings struct {
	// DestinationArn is AWS's CloudWatch Logs group or Firehose stream. Accepted so
	// that a template's stage reads as is; wsgate writes to Server.AccessLog instead.
	// Default "".
	DestinationArn string `yaml:"DestinationArn"`
	// Format is the line of each event: text with $context variables
	// ($context.requestId, $context.status, ...; docs/gateway.md lists them), usually
	// JSON. Required when AccessLogSettings is set.
	Format string `yaml:"Format"`
}

// AccessLog is where the access log is written.
type AccessLog struct {
	// Path is the file the lines are appended to (created with mode 0600). Default ""
	// (or "-"): standard output.
	Path string `yaml:"Path"`
}

// validateAccessLog checks that Stage.AccessLogSettings.Format compiles.
func (c *Config) validateAccessLog(errs *errorList) {
	s := c.Stage.AccessLogSettings
	if s == nil {
		return
	}
	if _, err := accesslog.Compile(s.Format); err != nil {
		errs.add("Stage.AccessLogSettings.Format", "%v", err)
	}
}

// accessLogSettings reads a stage's AccessLogSettings property. Format is evaluated
// on its own, so that a DestinationArn wsgate cannot resolve (!GetAtt LogGroup.Arn)
// does not stop it.
func (b *builder) accessLogSettings(stage resource) {
	raw, set := stage.props["AccessLogSettings"]
	if !set {
		return
	}
	m, ok := raw.(map[string]any)
	if !ok {
		b.bad(stage, "AccessLogSettings", "an AccessLogSettings object")
		return
	}
	for k := range m {
		if k != "Format" && k != "DestinationArn" {
			b.bad(stage, "AccessLogSettings."+k, "an AccessLogSettings property (DestinationArn, Format)")
		}
	}
	// The property path in errors is AccessLogSettings.Format.
	sub := resource{id: stage.id, props: map[string]any{"AccessLogSettings.Format": m["Format"]}}
	b.cfg.Stage.AccessLogSettings = &AccessLogSettings{
		Format: b.str(sub, "AccessLogSettings.Format", "Stage.AccessLogSettings.Format"),
	}
}
