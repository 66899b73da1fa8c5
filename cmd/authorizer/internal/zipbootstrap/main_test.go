package main

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestZipBootstrap(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	content := bytes.Repeat([]byte("\x7fELF binary bytes "), 1000)
	if err := os.WriteFile(bin, content, 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.zip")
	if err := zipBootstrap(bin, out); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	type entry struct {
		Name string
		Mode os.FileMode
		Body []byte
	}
	var got []entry
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, entry{f.Name, f.Mode(), b})
	}
	want := []entry{{"bootstrap", 0o755, content}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("zip entries (-want +got):\n%s", diff)
	}

	// The same binary gives the same zip.
	first, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := zipBootstrap(bin, out); err != nil {
		t.Fatal(err)
	}
	second, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Error("zipping the same binary twice gave different zips")
	}
}

func TestZipBootstrapMissingBinary(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.zip")
	if err := zipBootstrap(filepath.Join(dir, "absent"), out); err == nil {
		t.Fatal("no error for a missing binary")
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output exists after a failure: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("left files behind: %v", entries)
	}
}
