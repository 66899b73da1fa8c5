package config

// Writing a template's function code where the local runtime reads it: inline code
// (Code.ZipFile, SAM's InlineCode) as index.js or index.py, and zips unpacked.

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// maxUnzippedBytes bounds a function zip's contents: Lambda's own limit (250 MB).
const maxUnzippedBytes = 250 << 20

// inlineCodeDir is where inline code and unpacked zips go: a directory per content hash
// under the user's cache directory (the temporary directory when there is none), so
// runs share what did not change and nothing grows per run.
func inlineCodeDir() string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "wsgate", "functions")
}

// writeCode writes the template's inline code and unpacks the functions whose CodeDir is
// a zip (CodeUri: fn.zip, or an overrides file's CodeDir).
func (b *builder) writeCode(c *Config) error {
	for _, in := range b.inline {
		if err := writeFileOnce(in.dir, in.file, []byte(in.code)); err != nil {
			return fmt.Errorf("inline code: %w", err)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.Functions)) {
		f := c.Functions[name]
		if strings.HasSuffix(strings.ToLower(f.CodeDir), ".zip") {
			dir, err := unzipOnce(f.CodeDir, b.inlineDir)
			if err != nil {
				return fmt.Errorf("Functions.%s.CodeDir: %w", name, err)
			}
			f.CodeDir = dir
		}
		// Absolute: the function's LAMBDA_TASK_ROOT, whatever directory its process runs in.
		abs, err := filepath.Abs(f.CodeDir)
		if err != nil {
			return fmt.Errorf("Functions.%s.CodeDir: %w", name, err)
		}
		f.CodeDir = abs
		c.Functions[name] = f
	}
	return nil
}

// writeFileOnce writes dir/file unless it holds data already; the directory is made
// whole (written aside, then renamed) so a concurrent run never sees half of it.
func writeFileOnce(dir, file string, data []byte) error {
	if got, err := os.ReadFile(filepath.Join(dir, file)); err == nil && string(got) == string(data) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := os.WriteFile(filepath.Join(tmp, file), data, 0o644); err != nil {
		return err
	}
	return replaceDir(tmp, dir)
}

// replaceDir renames tmp to dir, replacing an older dir.
func replaceDir(tmp, dir string) error {
	if err := os.Rename(tmp, dir); err != nil {
		if !errors.Is(err, fs.ErrExist) && !strings.Contains(err.Error(), "not empty") {
			return err
		}
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		return os.Rename(tmp, dir)
	}
	return nil
}

// unzipOnce unpacks the zip at path into base/zip-{hash of its bytes} and returns that
// directory. Entries must be local paths (no "..", no absolute names); file modes are
// kept (a provided runtime's bootstrap must stay executable).
func unzipOnce(path, base string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	dir := filepath.Join(base, "zip-"+hex.EncodeToString(sum[:12]))
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return dir, nil
	}
	zr, err := zip.OpenReader(path)
	if err != nil {
		return "", err
	}
	defer zr.Close()
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(base, ".tmp-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	var total int64
	for _, f := range zr.File {
		name := filepath.FromSlash(f.Name)
		if !filepath.IsLocal(name) {
			return "", fmt.Errorf("%s: entry %q is not a path inside the zip", path, f.Name)
		}
		dst := filepath.Join(tmp, name)
		if f.FileInfo().IsDir() {
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return "", err
			}
			continue
		}
		if !f.Mode().IsRegular() {
			return "", fmt.Errorf("%s: entry %q is not a regular file", path, f.Name)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", err
		}
		n, err := unzipFile(f, dst, maxUnzippedBytes-total)
		if err != nil {
			return "", fmt.Errorf("%s: %s: %w", path, f.Name, err)
		}
		total += n
	}
	if err := os.WriteFile(filepath.Join(tmp, ".complete"), nil, 0o644); err != nil {
		return "", err
	}
	return dir, replaceDir(tmp, dir)
}

func unzipFile(f *zip.File, dst string, room int64) (int64, error) {
	rc, err := f.Open()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	mode := f.Mode().Perm() | 0o400
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(out, io.LimitReader(rc, room+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > room {
		err = fmt.Errorf("the zip unpacks to more than %d MB", maxUnzippedBytes>>20)
	}
	return n, err
}
