package config

import (
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Function is a Lambda function run locally (docs/lambda.md): wsgate starts its
// processes on first use and serves them the Lambda Runtime API.
type Function struct {
	// Runtime is the Lambda runtime identifier: provided.al2023, provided.al2,
	// nodejs18.x, nodejs20.x, nodejs22.x, or python3.x. Required.
	Runtime string `yaml:"Runtime"`
	// Handler is the handler as Lambda reads it ("index.handler", "app.lambda_handler");
	// ignored by provided.* runtimes, which run CodeDir/bootstrap. Required otherwise.
	Handler string `yaml:"Handler"`
	// CodeDir is the directory holding the function's code (LAMBDA_TASK_ROOT). Relative
	// paths are relative to the config or template file. Required.
	CodeDir string `yaml:"CodeDir"`
	// Environment is added to the function's environment (the template's
	// Environment.Variables). Default none.
	Environment map[string]string `yaml:"Environment"`
	// Timeout is the invocation timeout, as Lambda's Timeout. Default 3s.
	Timeout Duration `yaml:"Timeout"`
	// MemorySize is reported to the function (AWS_LAMBDA_FUNCTION_MEMORY_SIZE), in MB.
	// Default 128.
	MemorySize int `yaml:"MemorySize"`
	// MaxConcurrency is the most processes run at once for this function; further
	// invocations queue. Default 10.
	MaxConcurrency int `yaml:"MaxConcurrency"`
}

// Lambda's limits on a function's settings, which Validate applies.
const (
	// MaxFunctionTimeout is Lambda's longest Timeout (15 minutes).
	MaxFunctionTimeout = 15 * time.Minute
	// MinMemorySize and MaxMemorySize bound MemorySize, in MB, as Lambda does.
	MinMemorySize = 128
	MaxMemorySize = 10240
)

// Runtimes are the runtime identifiers wsgate runs, besides python3.N (any minor version).
var Runtimes = []string{"provided.al2023", "provided.al2", "nodejs18.x", "nodejs20.x", "nodejs22.x"}

// reservedEnv are the variables Lambda sets itself and refuses in a function's
// Environment (Lambda: "reserved keys").
var reservedEnv = map[string]bool{
	"_HANDLER": true, "_X_AMZN_TRACE_ID": true, "AWS_DEFAULT_REGION": true, "AWS_REGION": true,
	"AWS_EXECUTION_ENV": true, "AWS_LAMBDA_FUNCTION_NAME": true, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": true,
	"AWS_LAMBDA_FUNCTION_VERSION": true, "AWS_LAMBDA_INITIALIZATION_TYPE": true,
	"AWS_LAMBDA_LOG_GROUP_NAME": true, "AWS_LAMBDA_LOG_STREAM_NAME": true, "AWS_ACCESS_KEY": true,
	"AWS_ACCESS_KEY_ID": true, "AWS_SECRET_ACCESS_KEY": true, "AWS_SESSION_TOKEN": true,
	"AWS_LAMBDA_RUNTIME_API": true, "LAMBDA_TASK_ROOT": true, "LAMBDA_RUNTIME_DIR": true,
}

// IsPythonRuntime says whether runtime is python3.N.
func IsPythonRuntime(runtime string) bool {
	minor, ok := strings.CutPrefix(runtime, "python3.")
	if !ok || minor == "" {
		return false
	}
	for _, r := range minor {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// IsNodeRuntime says whether runtime is one of the nodejs ones wsgate runs.
func IsNodeRuntime(runtime string) bool {
	return strings.HasPrefix(runtime, "nodejs") && slices.Contains(Runtimes, runtime)
}

// setFunctionDefaults fills the zero fields of every function.
func (c *Config) setFunctionDefaults() {
	for name, f := range c.Functions {
		if f.Timeout == 0 {
			f.Timeout = Duration(3 * time.Second)
		}
		if f.MemorySize == 0 {
			f.MemorySize = 128
		}
		if f.MaxConcurrency == 0 {
			f.MaxConcurrency = 10
		}
		c.Functions[name] = f
	}
}

// ResolveCodeDirs makes every relative CodeDir relative to dir (the config or
// template file's directory) instead of the working directory.
func (c *Config) ResolveCodeDirs(dir string) {
	for name, f := range c.Functions {
		if f.CodeDir != "" && !filepath.IsAbs(f.CodeDir) {
			f.CodeDir = filepath.Join(dir, f.CodeDir)
			c.Functions[name] = f
		}
	}
}

// validateFunctions checks every function, naming the field.
func (c *Config) validateFunctions(errs *errorList) {
	for _, name := range sortedKeys(c.Functions) {
		f, field := c.Functions[name], "Functions."+name
		if !isFunctionName(name) {
			errs.add(field, "%q must be 1-64 letters, digits, '-' or '_' (a Lambda function name)", name)
		}
		switch {
		case f.Runtime == "":
			errs.add(field+".Runtime", "required")
		case !slices.Contains(Runtimes, f.Runtime) && !IsPythonRuntime(f.Runtime):
			errs.add(field+".Runtime", "%q is not one of %s, python3.x", f.Runtime, strings.Join(Runtimes, ", "))
		}
		if !strings.HasPrefix(f.Runtime, "provided") {
			if i := strings.LastIndexByte(f.Handler, '.'); f.Handler == "" || i <= 0 || i == len(f.Handler)-1 {
				errs.add(field+".Handler", "%q must be file.function (index.handler, app.lambda_handler)", f.Handler)
			}
		}
		if f.CodeDir == "" {
			errs.add(field+".CodeDir", "required")
		}
		if d := f.Timeout.D(); d <= 0 || d > MaxFunctionTimeout {
			errs.add(field+".Timeout", "%s must be more than 0 and at most %s", d, MaxFunctionTimeout)
		}
		if f.MemorySize < MinMemorySize || f.MemorySize > MaxMemorySize {
			errs.add(field+".MemorySize", "%d must be %d-%d (MB)", f.MemorySize, MinMemorySize, MaxMemorySize)
		}
		if f.MaxConcurrency < 1 {
			errs.add(field+".MaxConcurrency", "%d must be at least 1", f.MaxConcurrency)
		}
		for _, k := range sortedKeys(f.Environment) {
			if reservedEnv[k] {
				errs.add(field+".Environment."+k, "reserved by Lambda: wsgate sets it")
			}
		}
	}
}

func isFunctionName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
