package server

import (
	"log/slog"
	"strings"

	"github.com/wsgate/wsgate/internal/config"
)

// logFunctions logs, once at startup, each local Lambda function (runtime, handler, the
// routes it serves) and, for a config from serve --template, each resource type the
// template has and wsgate does not emulate, with the resources' logical ids.
func logFunctions(log *slog.Logger, cfg *config.Config) {
	for _, line := range config.FunctionsSummary(cfg) {
		name, rest, _ := strings.Cut(line, ": ")
		log.Info("function", "name", name, "function", rest)
	}
	if cfg.Template == nil {
		return
	}
	for _, line := range cfg.Template.Lines() {
		typ, ids, _ := strings.Cut(line, ": ")
		log.Info("template: not emulated", "type", typ, "resources", ids)
	}
}
