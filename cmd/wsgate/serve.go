package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/server"
)

// configFlags are how serve and token find the configuration: the embedded default,
// --config, or --template with --overrides.
type configFlags struct {
	path, template, overrides string
}

func addConfigFlags(fs *flag.FlagSet) *configFlags {
	c := &configFlags{}
	fs.StringVar(&c.path, "config", "", "configuration `file` (YAML); default: the embedded default (a cookie-authenticated echo API with the development key)")
	fs.StringVar(&c.template, "template", "", "a CloudFormation `template` (AWS::ApiGatewayV2::*) whose API to use, instead of --config")
	fs.StringVar(&c.overrides, "overrides", "", "with --template: a YAML `file` in --config's format whose Server section and local endpoints override the template's")
	return c
}

// load reads the configuration the flags name and says where it came from.
func (c *configFlags) load(cmd string) (*config.Config, string, error) {
	switch {
	case c.template != "" && c.path != "":
		return nil, "", &usageError{cmd: cmd, msg: cmd + ": --config and --template are exclusive"}
	case c.template != "":
		cfg, err := config.LoadTemplate(c.template, c.overrides)
		return cfg, c.template, err
	case c.overrides != "":
		return nil, "", &usageError{cmd: cmd, msg: cmd + ": --overrides needs --template"}
	case c.path != "":
		cfg, err := config.Load(c.path)
		return cfg, c.path, err
	}
	cfg, err := config.Parse(config.Default)
	return cfg, "embedded default", err
}

// serve runs the gateway until ctx ends.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve")
	cf := addConfigFlags(fs)
	check := fs.Bool("check-config", false, "check the configuration as serving it would (files, environment variables, secrets; ports as warnings), build the gateway from it, and exit")
	listen := fs.String("listen", "", "override Server.Listen (`host:port`; port 0 picks one)")
	mgmtListen := fs.String("management-listen", "", "override Server.ManagementListen (`host:port`; port 0 picks one)")
	lf := addLogFlags(fs)
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	logger, err := lf.logger("serve", stderr)
	if err != nil {
		return err
	}
	cfg, source, err := cf.load("serve")
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Server.Listen = *listen
	}
	if *mgmtListen != "" {
		cfg.Server.ManagementListen = *mgmtListen
	}
	if err := config.Check(cfg, getenv); err != nil {
		return err
	}
	deps := server.Deps{Getenv: getenv, Logger: logger, AccessLogStdout: stdout}
	if *check {
		for _, w := range config.CheckPorts(cfg) {
			fmt.Fprintf(stderr, "wsgate: warning: %s\n", w)
		}
		g, err := server.Build(ctx, cfg, deps)
		if err != nil {
			return err
		}
		_ = g.Shutdown(ctx)
		fmt.Fprintf(stdout, "wsgate: configuration %s is valid\n", source)
		return nil
	}
	return server.Serve(ctx, cfg, deps, func(a server.Addrs) {
		b := server.NewBanner(cfg, a, source)
		// The banner goes to stderr, where people look, as lines on a terminal and as
		// one record in a JSON log; stdout keeps the one ready line scripts read (and
		// the access log when it has no file).
		if lf.isJSON(stderr) {
			logger.Info("serving", slog.Any("banner", b))
		} else {
			fmt.Fprint(stderr, b.String())
		}
		scheme := "ws"
		if a.TLS {
			scheme = "wss"
		}
		fmt.Fprintf(stdout, "wsgate: serving %s (%s) on %s://%s/ ; @connections on http://%s/%s/@connections\n",
			cfg.API.Name, source, scheme, a.WebSocket, a.Management, cfg.Stage.StageName)
	})
}
