package config

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
