package server

import (
	"fmt"
	"io"
	"os"

	"github.com/wsgate/wsgate/internal/accesslog"
	"github.com/wsgate/wsgate/internal/config"
)

// openAccessLog opens the stage's access log (Stage.AccessLogSettings) where
// Server.AccessLog.Path says: stdout when the path is "" or "-" (nil: os.Stdout), else
// the file. It returns nil when the stage has no access log.
func openAccessLog(cfg *config.Config, stdout io.Writer) (*accesslog.Logger, error) {
	s := cfg.Stage.AccessLogSettings
	if s == nil {
		return nil, nil
	}
	f, err := accesslog.Compile(s.Format)
	if err != nil {
		return nil, fmt.Errorf("Stage.AccessLogSettings.Format: %w", err)
	}
	if stdout == nil {
		stdout = os.Stdout
	}
	l, err := accesslog.Open(f, cfg.Server.AccessLog.Path, stdout)
	if err != nil {
		return nil, fmt.Errorf("Server.AccessLog.Path: %w", err)
	}
	return l, nil
}
