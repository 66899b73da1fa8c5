// Command zipbootstrap packs a Lambda custom-runtime binary as a deployment zip: one
// entry named "bootstrap" at the root, mode 0755, with a fixed timestamp so that the
// same binary always gives the same zip. Usage: zipbootstrap <binary> <out.zip>
package main

import (
	"archive/zip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: zipbootstrap <binary> <out.zip>")
		os.Exit(2)
	}
	if err := zipBootstrap(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintf(os.Stderr, "zipbootstrap: %v\n", err)
		os.Exit(1)
	}
}

// modified is the entry's timestamp: fixed, for reproducible zips.
var modified = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// zipBootstrap writes out as a zip holding bin as "bootstrap" (mode 0755). The zip is
// written beside out and renamed into place, so out is never left half-written.
func zipBootstrap(bin, out string) (err error) {
	src, err := os.Open(bin)
	if err != nil {
		return err
	}
	defer src.Close()
	tmp, err := os.CreateTemp(filepath.Dir(out), ".zipbootstrap-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	zw := zip.NewWriter(tmp)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate, Modified: modified}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, src); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), out)
}
