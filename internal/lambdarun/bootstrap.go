package lambdarun

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The bootstraps wsgate ships for the nodejs and python runtimes: small Runtime API
// clients that load the handler. Written by hand because the official runtime
// interface clients do not fit here: npm's aws-lambda-ric needs Node 22 and a native
// build, and awslambdaric is on PyPI, which wsgate cannot rely on.
//
//go:embed bootstrap
var bootstraps embed.FS

// writeBootstraps writes the bootstraps to a new temporary directory
// (LAMBDA_RUNTIME_DIR), removed by Close.
func writeBootstraps() (string, error) {
	dir, err := os.MkdirTemp("", "wsgate-lambda-")
	if err != nil {
		return "", err
	}
	err = fs.WalkDir(bootstraps, "bootstrap", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(path, "bootstrap"), "/")
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		b, err := bootstraps.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), b, 0o644)
	})
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// command is the argv of a process of f.
func command(rt *Runtime, f *function) ([]string, error) {
	switch r := f.cfg.Runtime; {
	case strings.HasPrefix(r, "provided"):
		return []string{filepath.Join(f.cfg.CodeDir, "bootstrap")}, nil
	case strings.HasPrefix(r, "nodejs"):
		return []string{rt.opts.Node, filepath.Join(rt.dir, "node", "bootstrap.mjs")}, nil
	case strings.HasPrefix(r, "python"):
		return []string{rt.opts.Python, filepath.Join(rt.dir, "python", "bootstrap.py")}, nil
	default:
		return nil, fmt.Errorf("runtime %q is not supported", r)
	}
}
