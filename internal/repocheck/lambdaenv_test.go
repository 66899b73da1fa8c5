package repocheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path"
	"strconv"
	"strings"
	"testing"
)

// TestLambdaSettingsDocumented: every WSGATE_* variable the Lambda reads (the string
// constants of lambdaauth/env.go) has a row in docs/authorizer.md's settings table, and the
// table lists no variable the Lambda does not read.
func TestLambdaSettingsDocumented(t *testing.T) {
	root, _ := trackedFiles(t)
	f, err := parser.ParseFile(token.NewFileSet(), path.Join(root, "lambdaauth/env.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	read := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			if v, err := strconv.Unquote(lit.Value); err == nil && strings.HasPrefix(v, "WSGATE_") {
				read[v] = true
			}
		}
		return true
	})
	if len(read) < 10 {
		t.Fatalf("found %d WSGATE_ constants in lambdaauth/env.go: the file changed shape", len(read))
	}
	b, err := os.ReadFile(path.Join(root, "docs/authorizer.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "| `WSGATE_"); ok {
			name, _, _ := strings.Cut(rest, "`")
			rows["WSGATE_"+name] = true
		}
	}
	for v := range read {
		if !rows[v] {
			t.Errorf("docs/authorizer.md: no row for %s (lambdaauth/env.go reads it) in \"The Lambda's settings\"", v)
		}
	}
	for v := range rows {
		if !read[v] {
			t.Errorf("docs/authorizer.md: a row for %s, which lambdaauth/env.go does not read", v)
		}
	}
}
