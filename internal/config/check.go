package config

import (
	"crypto/tls"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/wsgate/wsgate/cookieauth"
)

// Check looks past the file at what serving c needs from the machine, as serve would
// find it: the SigV4 secrets of Server.Iam.Credentials when $connect is AWS_IAM, the
// HMAC secret or public key of the cookie authorizer on $connect (its
// environment variable set, its file readable, at least cookieauth.MinHMACSecretBytes
// for a secret, a PEM key that parses), every SecretAccessKeyEnv of
// Server.Management.Credentials, every Server.ApiKeys value, the TLS certificate and
// key (a pair that loads), the NATS credentials and CA files, and the access log's
// directory (writable). A JWKS is not fetched. Each error names the field; none holds
// a secret. c must be valid ([Config.Validate]).
func Check(c *Config, getenv func(string) string) error {
	var errs errorList
	if r, ok := c.Routes[RouteConnect]; ok && r.AuthorizationType == "CUSTOM" {
		if a, ok := c.Authorizers[r.AuthorizerID]; ok && a.Cookie != nil {
			checkKey(&errs, "Authorizers."+r.AuthorizerID+".Cookie.Key", a.Cookie.Key, getenv)
		}
	}
	if r, ok := c.Routes[RouteConnect]; ok && r.AuthorizationType == "AWS_IAM" {
		for i, cr := range c.Server.IAM.Credentials {
			if cr.SecretAccessKeyEnv != "" && getenv(cr.SecretAccessKeyEnv) == "" {
				errs.add(fmt.Sprintf("Server.Iam.Credentials[%d].SecretAccessKeyEnv", i),
					"the environment variable %s is not set; it holds the SigV4 secret access key of %s, which clients sign AWS_IAM handshakes with",
					cr.SecretAccessKeyEnv, cr.AccessKeyID)
			}
		}
	}
	for i, cr := range c.Server.Management.Credentials {
		if cr.SecretAccessKeyEnv != "" && getenv(cr.SecretAccessKeyEnv) == "" {
			errs.add(fmt.Sprintf("Server.Management.Credentials[%d].SecretAccessKeyEnv", i),
				"the environment variable %s is not set; it holds the SigV4 secret access key of %s, which signs @connections requests",
				cr.SecretAccessKeyEnv, cr.AccessKeyID)
		}
	}
	for i, k := range c.Server.APIKeys {
		field := fmt.Sprintf("Server.ApiKeys[%d]", i)
		switch {
		case k.ValueEnv != "":
			if getenv(k.ValueEnv) == "" {
				errs.add(field+".ValueEnv", "the environment variable %s is not set; it holds the value of API key %q", k.ValueEnv, k.Name)
			}
		case k.ValueFile != "":
			b, err := os.ReadFile(k.ValueFile)
			switch {
			case err != nil:
				errs.add(field+".ValueFile", "%v", err)
			case strings.TrimRight(string(b), "\r\n") == "":
				errs.add(field+".ValueFile", "%s is empty", k.ValueFile)
			}
		}
	}
	if t := c.Server.TLS; t != nil && t.CertFile != "" && t.KeyFile != "" {
		certErr, keyErr := readable(t.CertFile), readable(t.KeyFile)
		switch {
		case certErr != nil || keyErr != nil:
			if certErr != nil {
				errs.add("Server.TLS.CertFile", "%v", certErr)
			}
			if keyErr != nil {
				errs.add("Server.TLS.KeyFile", "%v", keyErr)
			}
		default:
			if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
				errs.add("Server.TLS", "CertFile and KeyFile: %v", err)
			}
		}
	}
	if cl := c.Server.Cluster; cl != nil {
		if cl.CredentialsFile != "" {
			if err := readable(cl.CredentialsFile); err != nil {
				errs.add("Server.Cluster.CredentialsFile", "%v", err)
			}
		}
		if cl.CAFile != "" {
			if err := readable(cl.CAFile); err != nil {
				errs.add("Server.Cluster.CaFile", "%v", err)
			}
		}
	}
	if c.Stage.AccessLogSettings != nil {
		if p := c.Server.AccessLog.Path; p != "" && p != "-" {
			if err := writable(p); err != nil {
				errs.add("Server.AccessLog.Path", "%v", err)
			}
		}
	}
	return errs.err()
}

// checkKey checks one cookie authorizer key source.
func checkKey(errs *errorList, field string, k KeySource, getenv func(string) string) {
	secretRule := fmt.Sprintf("the HMAC secret the cookie authorizer verifies JWTs with (at least %d bytes)", cookieauth.MinHMACSecretBytes)
	switch {
	case k.DevKey:
	case k.HMACSecretEnv != "":
		v := getenv(k.HMACSecretEnv)
		switch {
		case v == "":
			errs.add(field+".HmacSecretEnv", "the environment variable %s is not set; it holds %s", k.HMACSecretEnv, secretRule)
		case len(v) < cookieauth.MinHMACSecretBytes:
			errs.add(field+".HmacSecretEnv", "the environment variable %s has %d bytes; it holds %s", k.HMACSecretEnv, len(v), secretRule)
		}
	case k.HMACSecretFile != "":
		b, err := os.ReadFile(k.HMACSecretFile)
		switch v := strings.TrimRight(string(b), "\r\n"); {
		case err != nil:
			errs.add(field+".HmacSecretFile", "%v", err)
		case len(v) < cookieauth.MinHMACSecretBytes:
			errs.add(field+".HmacSecretFile", "%s has %d bytes; it holds %s", k.HMACSecretFile, len(v), secretRule)
		}
	case k.PublicKeyFile != "":
		b, err := os.ReadFile(k.PublicKeyFile)
		if err == nil {
			_, err = cookieauth.PublicKeyPEM(b)
		}
		if err != nil {
			errs.add(field+".PublicKeyFile", "%v", err)
		}
	}
}

// readable reports why path cannot be read, or nil.
func readable(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	return f.Close()
}

// writable reports why the file at path cannot be appended to or created, or nil. It
// creates nothing: an existing file is opened for appending, else a temporary file is
// made and removed in its directory.
func writable(path string) error {
	if _, err := os.Stat(path); err == nil {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return err
		}
		return f.Close()
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".wsgate-check-*")
	if err != nil {
		return fmt.Errorf("cannot create %s: %w", path, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// CheckPorts tries to listen on every address c serves on (Server.Listen,
// Server.ManagementListen, the embedded NATS server's client and cluster addresses)
// and closes at once; it returns a warning per address that cannot be bound now (in
// use, not local, not permitted). Port 0 always binds.
func CheckPorts(c *Config) []string {
	addrs := map[string]string{"Server.Listen": c.Server.Listen, "Server.ManagementListen": c.Server.ManagementListen}
	if cl := c.Server.Cluster; cl != nil && cl.Embedded != nil {
		addrs["Server.Cluster.Embedded.Listen"] = cl.Embedded.Listen
		if cl.Embedded.ClusterListen != "" {
			addrs["Server.Cluster.Embedded.ClusterListen"] = cl.Embedded.ClusterListen
		}
	}
	var warnings []string
	for _, f := range slices.Sorted(maps.Keys(addrs)) {
		ln, err := net.Listen("tcp", addrs[f])
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("%s: %s cannot be listened on now: %v", f, addrs[f], err))
			continue
		}
		ln.Close()
	}
	return warnings
}
