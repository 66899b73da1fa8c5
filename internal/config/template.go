package config

import "errors"

// LoadTemplate reads a CloudFormation template defining an AWS::ApiGatewayV2 WebSocket
// API and, if overridesPath is not empty, a YAML file in the config format whose Server
// section and entries override the template's (local integration URIs, the built-in
// authorizer in place of a Lambda). It returns the validated Config.
func LoadTemplate(templatePath, overridesPath string) (*Config, error) {
	return nil, errors.New("--template is not implemented yet")
}
