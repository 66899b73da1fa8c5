package config

import (
	"strings"
	"testing"
)

// TestAccessLogTemplate reads a stage's AccessLogSettings: the Format evaluated on its
// own (a !Sub in it resolves) while a DestinationArn of a log group is not used; a
// format that does not compile, or an unknown property, names the property.
func TestAccessLogTemplate(t *testing.T) {
	const stage = `StageVariables: {v: "1", region: !Ref AWS::Region}}`
	for _, tc := range []struct {
		name, settings, wantFormat, wantErr string
	}{
		{"format and a log group", `{DestinationArn: !GetAtt Logs.Arn, Format: !Sub '{"id":"$context.requestId","stage":"${Stage}"}'}`,
			`{"id":"$context.requestId","stage":"dev"}`, ""},
		{"no variable", `{Format: "plain"}`, "", "Stage.AccessLogSettings.Format: holds no $context variable"},
		{"no format", `{DestinationArn: arn:aws:logs:us-east-1:1:log-group:x}`, "", "Stage.AccessLogSettings.Format: empty"},
		{"unknown property", `{Format: "$context.requestId", Destination: x}`, "", "AccessLogSettings.Destination: not an AccessLogSettings property"},
		{"not an object", `"$context.requestId"`, "", "AccessLogSettings: not an AccessLogSettings object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(baseTemplate, stage) {
				t.Fatal("baseTemplate's stage changed")
			}
			tmpl := strings.Replace(baseTemplate, stage, strings.TrimSuffix(stage, "}")+", AccessLogSettings: "+tc.settings+"}", 1)
			c, err := ParseTemplate([]byte(tmpl), []byte(baseOverrides))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := c.Stage.AccessLogSettings; s == nil || s.Format != tc.wantFormat {
				t.Errorf("AccessLogSettings = %+v, want Format %q", s, tc.wantFormat)
			}
		})
	}
}
