package config

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// docPath is the configuration reference generated from this package's doc comments.
const docPath = "../../docs/config.md"

// typeDocs reads this package's non-test sources and returns each type's doc comment
// and its fields' doc comments. A field without a comment of its own shares the one
// above it ("A, B and C are ...": Go attaches such a comment to A alone).
func typeDocs(t testing.TB) (types map[string]string, fields map[string]map[string]string) {
	t.Helper()
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	types, fields = map[string]string{}, map[string]map[string]string{}
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, spec := range gd.Specs {
				ts := spec.(*ast.TypeSpec)
				d := ts.Doc
				if d == nil && len(gd.Specs) == 1 {
					d = gd.Doc
				}
				types[ts.Name.Name] = d.Text()
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					continue
				}
				fields[ts.Name.Name] = map[string]string{}
				last := ""
				for _, fl := range st.Fields.List {
					if fl.Doc != nil {
						last = fl.Doc.Text()
					}
					for _, n := range fl.Names {
						fields[ts.Name.Name][n.Name] = last
					}
				}
			}
		}
	}
	return types, fields
}

// mapKeyNames are the placeholders of maps' keys in the reference's paths.
var mapKeyNames = map[string]string{
	"Routes": "{routeKey}", "RouteSettings": "{routeKey}", "Integrations": "{integrationId}",
	"Authorizers": "{authorizerId}", "Models": "{modelName}", "Functions": "{functionName}",
}

// yamlName is a field's YAML key, or "" for a field YAML does not read.
func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" || !f.IsExported() {
		return ""
	}
	return name
}

// section is one struct type of the config, at the first path it appears at.
type section struct {
	path string
	typ  reflect.Type
}

// walkSections lists the struct types reachable from Config, each once, in the order a
// depth-first walk of the fields meets them; seen maps each type to its section's path.
func walkSections() (out []section, seen map[reflect.Type]string) {
	durType := reflect.TypeFor[Duration]()
	seen = map[reflect.Type]string{}
	var walk func(path string, t reflect.Type)
	walk = func(path string, t reflect.Type) {
		if _, ok := seen[t]; ok {
			return
		}
		seen[t] = path
		out = append(out, section{path, t})
		for i := range t.NumField() {
			f := t.Field(i)
			name := yamlName(f)
			if name == "" {
				continue
			}
			p := name
			if path != "" {
				p = path + "." + name
			}
			ft := f.Type
			for {
				switch ft.Kind() {
				case reflect.Pointer:
					ft = ft.Elem()
					continue
				case reflect.Slice:
					ft = ft.Elem()
					p += "[]"
					continue
				case reflect.Map:
					ft = ft.Elem()
					k := mapKeyNames[name]
					if k == "" {
						k = "{key}"
					}
					p += "." + k
					continue
				}
				break
			}
			if ft.Kind() == reflect.Struct && ft != durType {
				walk(p, ft)
			}
		}
	}
	walk("", reflect.TypeFor[Config]())
	return out, seen
}

// typeName says what a field holds, in YAML's words.
func typeName(t reflect.Type, seen map[reflect.Type]string) string {
	switch {
	case t == reflect.TypeFor[Duration]():
		return "duration (`10s`, `2h`)"
	case t.Kind() == reflect.Pointer:
		return typeName(t.Elem(), seen)
	case t.Kind() == reflect.Slice:
		return "list of " + typeName(t.Elem(), seen)
	case t.Kind() == reflect.Map:
		return "map of " + typeName(t.Elem(), seen)
	case t.Kind() == reflect.Struct:
		p := seen[t]
		if p == "" {
			p = "top level"
		}
		return fmt.Sprintf("[%s](#%s)", t.Name(), anchor(p))
	case t.Kind() == reflect.Bool:
		return "boolean"
	case t.Kind() == reflect.Int:
		return "integer"
	case t.Kind() == reflect.Float64:
		return "number"
	default:
		return t.Kind().String()
	}
}

// anchor is the GitHub anchor of a section heading "`path`".
func anchor(path string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(path) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

// markers are the comment lines that group fields in the source ("--- API keys ---").
var markers = regexp.MustCompile(`(?m)^---.*---\n?`)

// cell makes a doc comment one Markdown table cell.
func cell(s string) string {
	s = markers.ReplaceAllString(s, "")
	s = strings.Join(strings.Fields(s), " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

// configDoc generates docs/config.md.
func configDoc(t testing.TB) string {
	types, fields := typeDocs(t)
	sections, seen := walkSections()
	var b strings.Builder
	b.WriteString("# Configuration reference\n\n" +
		"<!-- Generated from the doc comments of internal/config by\n" +
		"     go test ./internal/config -run TestConfigDoc -update\n" +
		"     Edit the comments, not this file. -->\n\n" +
		"Every field of the YAML file `wsgate serve --config` reads, with its default, generated from\n" +
		"the doc comments of [`internal/config`](../internal/config) (a test fails when a field is\n" +
		"missing here). Names are API Gateway's where AWS has the setting; `Server` and the fields\n" +
		"marked as wsgate extensions are wsgate's own. Unknown fields are errors, with their line;\n" +
		"`wsgate serve --check-config` validates a file and names the field of each problem.\n" +
		"Secrets are never written in the file: fields ending in `Env` name an environment variable\n" +
		"and fields ending in `File` a file that holds them. The embedded default (what `wsgate\n" +
		"serve` runs without `--config`) is [`internal/config/default.yaml`](../internal/config/default.yaml);\n" +
		"a minimal config is in the [README](../README.md#a-minimal-gateway-config).\n\n" +
		"`{routeKey}` and the like stand for a map's keys, `[]` for a list's entries.\n")
	for _, s := range sections {
		title := s.path
		if title == "" {
			title = "top level"
		}
		fmt.Fprintf(&b, "\n## `%s`\n\n", title)
		if d := cell(types[s.typ.Name()]); d != "" {
			fmt.Fprintf(&b, "%s\n\n", d)
		}
		b.WriteString("| field | type | meaning and default |\n|---|---|---|\n")
		for i := range s.typ.NumField() {
			f := s.typ.Field(i)
			name := yamlName(f)
			if name == "" {
				continue
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", name, typeName(f.Type, seen), cell(fields[s.typ.Name()][f.Name]))
		}
	}
	return b.String()
}

// TestConfigDoc keeps docs/config.md what the doc comments generate; -update rewrites it.
func TestConfigDoc(t *testing.T) {
	want := configDoc(t)
	if *update {
		if err := os.WriteFile(docPath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("docs/config.md is not what internal/config's doc comments generate; run\n"+
			"  go test ./internal/config -run TestConfigDoc -update\n(-generated +file):\n%s", diff)
	}
}

// TestConfigDocHasEveryField reads docs/config.md as it is and checks that every YAML
// field of Config, walked by reflection, has a row in its section, and that every field
// has a doc comment to fill it with.
func TestConfigDocHasEveryField(t *testing.T) {
	b, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]bool{} // "path field"
	section := ""
	heading := regexp.MustCompile("^## `([^`]+)`")
	row := regexp.MustCompile("^\\| `([^`]+)` \\|")
	for _, line := range strings.Split(string(b), "\n") {
		if m := heading.FindStringSubmatch(line); m != nil {
			section = m[1]
		} else if m := row.FindStringSubmatch(line); m != nil {
			rows[section+" "+m[1]] = true
		}
	}
	_, fields := typeDocs(t)
	sections, _ := walkSections()
	var missing, undocumented []string
	for _, s := range sections {
		title := s.path
		if title == "" {
			title = "top level"
		}
		for i := range s.typ.NumField() {
			f := s.typ.Field(i)
			name := yamlName(f)
			if name == "" {
				continue
			}
			if !rows[title+" "+name] {
				missing = append(missing, title+"."+name)
			}
			if strings.TrimSpace(fields[s.typ.Name()][f.Name]) == "" {
				undocumented = append(undocumented, s.typ.Name()+"."+f.Name)
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("docs/config.md has no row for %d config fields (run go test ./internal/config -run TestConfigDoc -update):\n%s",
			len(missing), strings.Join(missing, "\n"))
	}
	if len(undocumented) > 0 {
		t.Errorf("config fields without a doc comment (write one: it is the reference's text):\n%s", strings.Join(undocumented, "\n"))
	}
	if len(rows) < 80 {
		t.Errorf("docs/config.md has %d field rows: the table format changed or the file is truncated", len(rows))
	}
}
