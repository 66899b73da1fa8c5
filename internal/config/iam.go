package config

import "fmt"

// IAM is AWS_IAM authorization on $connect (docs/gateway.md "AWS_IAM"): the access keys
// whose SigV4 signature a handshake may carry, and who each key is. They are separate
// from Management.Credentials on purpose: a key that may connect as a client must not
// also be able to post to, read or close every other client's connection, and on AWS
// those are separate permissions (execute-api:Invoke and execute-api:ManageConnections)
// that a client's policy rarely holds both of.
type IAM struct {
	// Credentials are the access keys a $connect whose AuthorizationType is AWS_IAM
	// accepts. Default none (an error when $connect is AWS_IAM).
	Credentials []IAMCredential `yaml:"Credentials"`
}

// IAMCredential is one access key a client may sign its handshake with, and the
// $context.identity fields of the connections it opens. The secret comes from the
// environment, never from the config.
type IAMCredential struct {
	// AccessKeyID is the access key id, $context.identity.accessKey. Required.
	AccessKeyID string `yaml:"AccessKeyId"`
	// SecretAccessKeyEnv names the environment variable holding the secret. Required.
	SecretAccessKeyEnv string `yaml:"SecretAccessKeyEnv"`
	// AccountID is $context.identity.accountId. Default: Server.AccountId.
	AccountID string `yaml:"AccountId"`
	// UserArn is $context.identity.userArn, e.g. arn:aws:iam::123456789012:user/alice.
	// Default "".
	UserArn string `yaml:"UserArn"`
	// Caller is $context.identity.caller (on AWS the principal's unique id, such as
	// AIDA... for a user or AROA...:session for a role). Default "".
	Caller string `yaml:"Caller"`
	// User is $context.identity.user (on AWS the same unique id). Default "".
	User string `yaml:"User"`
}

// validateIAM checks AWS_IAM on $connect against Server.Iam.
func (c *Config) validateIAM(errs *errorList) {
	if r, ok := c.Routes[RouteConnect]; ok && r.AuthorizationType == "AWS_IAM" && len(c.Server.IAM.Credentials) == 0 {
		errs.add("Server.Iam.Credentials", "none, but Routes.$connect.AuthorizationType is AWS_IAM: every $connect would be refused")
	}
	seen := make(map[string]bool, len(c.Server.IAM.Credentials))
	for i, k := range c.Server.IAM.Credentials {
		field := fmt.Sprintf("Server.Iam.Credentials[%d]", i)
		switch {
		case k.AccessKeyID == "":
			errs.add(field+".AccessKeyId", "is required")
		case seen[k.AccessKeyID]:
			errs.add(field+".AccessKeyId", "%q is used twice", k.AccessKeyID)
		}
		seen[k.AccessKeyID] = true
		if k.SecretAccessKeyEnv == "" {
			errs.add(field+".SecretAccessKeyEnv", "is required")
		}
	}
}
