package lambdarun

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Inert credentials for functions when wsgate has none: the SDKs in the function then
// sign requests (to local services that check no signature) instead of failing to find
// credentials.
const (
	localAccessKeyID     = "AKIDLOCALWSGATE00000"
	localSecretAccessKey = "wsgate-local-secret-access-key-not-a-secret"
)

// environment is a process's environment, as Lambda's: the reserved variables, the
// credentials, then the function's Environment (which config.Validate keeps from
// overriding a reserved one).
func environment(rt *Runtime, f *function, apiAddr, stream string) []string {
	o, fc := rt.opts, f.cfg
	env := map[string]string{
		"AWS_REGION":                      o.Region,
		"AWS_DEFAULT_REGION":              o.Region,
		"AWS_LAMBDA_FUNCTION_NAME":        f.name,
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(fc.MemorySize),
		"AWS_LAMBDA_RUNTIME_API":          apiAddr,
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + f.name,
		"AWS_LAMBDA_LOG_STREAM_NAME":      stream,
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"AWS_EXECUTION_ENV":               "AWS_Lambda_" + fc.Runtime,
		"_HANDLER":                        fc.Handler,
		"LAMBDA_TASK_ROOT":                fc.CodeDir,
		"LAMBDA_RUNTIME_DIR":              rt.dir,
		"TZ":                              ":UTC",
		"LANG":                            "en_US.UTF-8",
		// The host's PATH, so a bootstrap finds what the machine has (Lambda's is
		// /var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin).
		"PATH": os.Getenv("PATH"),
	}
	if id := o.Getenv("AWS_ACCESS_KEY_ID"); id != "" {
		env["AWS_ACCESS_KEY_ID"] = id
		env["AWS_SECRET_ACCESS_KEY"] = o.Getenv("AWS_SECRET_ACCESS_KEY")
		if tok := o.Getenv("AWS_SESSION_TOKEN"); tok != "" {
			env["AWS_SESSION_TOKEN"] = tok
		}
	} else {
		env["AWS_ACCESS_KEY_ID"] = localAccessKeyID
		env["AWS_SECRET_ACCESS_KEY"] = localSecretAccessKey
	}
	if o.CAFile != "" {
		// SSL_CERT_FILE replaces the system roots for Python and Go: right for a
		// local gateway whose certificates the dev CA signs.
		env["NODE_EXTRA_CA_CERTS"] = o.CAFile
		env["AWS_CA_BUNDLE"] = o.CAFile
		env["SSL_CERT_FILE"] = o.CAFile
	}
	switch {
	case strings.HasPrefix(fc.Runtime, "nodejs"):
		// Lambda: NODE_PATH=/opt/nodejs/node20/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task
		paths := []string{}
		if o.NodeModules != "" {
			paths = append(paths, o.NodeModules)
		}
		paths = append(paths, filepath.Join(rt.dir, "node"), fc.CodeDir)
		env["NODE_PATH"] = strings.Join(paths, string(os.PathListSeparator))
		env["WSGATE_NODE_MODULES"] = o.NodeModules
	case strings.HasPrefix(fc.Runtime, "python"):
		env["PYTHONPATH"] = filepath.Join(rt.dir, "python")
		env["PYTHONUNBUFFERED"] = "1"
	}
	maps.Copy(env, fc.Environment)
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}
