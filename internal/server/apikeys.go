package server

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/gateway"
)

// apiKeys reads the values of Server.ApiKeys from the environment or their files. An
// empty value is an error: it would be no key at all.
func apiKeys(cfg *config.Config, getenv func(string) string) ([]gateway.APIKey, error) {
	var errs []error
	keys := make([]gateway.APIKey, 0, len(cfg.Server.APIKeys))
	for i, k := range cfg.Server.APIKeys {
		field := fmt.Sprintf("Server.ApiKeys[%d]", i)
		var v string
		switch {
		case k.ValueEnv != "":
			if v = getenv(k.ValueEnv); v == "" {
				errs = append(errs, fmt.Errorf("%s.ValueEnv: the environment variable %s is empty", field, k.ValueEnv))
				continue
			}
		default:
			b, err := os.ReadFile(k.ValueFile)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s.ValueFile: %w", field, err))
				continue
			}
			if v = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"); v == "" {
				errs = append(errs, fmt.Errorf("%s.ValueFile: %s is empty", field, k.ValueFile))
				continue
			}
		}
		keys = append(keys, gateway.APIKey{Name: k.Name, Value: []byte(v)})
	}
	return keys, errors.Join(errs...)
}
