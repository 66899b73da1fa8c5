package repocheck

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path"
	"regexp"
	"strings"
	"testing"
)

// The patterns are assembled from pieces so that this file does not match itself.
var (
	// A run of parent-directory steps: judged against the depth of the file's directory.
	climb = regexp.MustCompile(`(?:\.\./)+`)
	// Absolute paths of the machines the repository was developed on.
	workPath = regexp.MustCompile(`/` + `work/`)
	tmpPath  = regexp.MustCompile(`(^|[^A-Za-z0-9_.])/` + `tmp/`)
	// The team's private notes, by name.
	specRef = regexp.MustCompile(`SPEC` + `\.md|SPEC` + ` §`)
	// The word issue (or Issue, issues) followed by a number, with or without a hash.
	issueWord = regexp.MustCompile(`\b[Ii]ssues? #?[0-9]+`)
	// A hash and digits standing alone in prose (not an HTML entity, a CSS colour, a verb).
	hashNumber = regexp.MustCompile(`(^|[\s(\[,])#[0-9]+\b`)
	pkcs       = regexp.MustCompile(`PKCS #[0-9]+`)
)

// allowed are the matches that are not references, each with its reason. A line is
// allowed when its file is file (or file is a path.Match pattern matching it), the rule is
// rule, and the line contains text.
var allowed = []struct{ file, rule, text, reason string }{
	{"docs/gateway.md", "climb", "`../../admin`", "an attacker's path-traversal input, not a reference"},
	{"docs/security.md", "climb", `../../admin/delete`, "an attacker's path-traversal input, not a reference"},
	{"bench/results/*.pprof/*.txt", "work", "/main/", "recorded goroutine profiles: the source paths of the machine that recorded them"},
}

type violation struct {
	file string
	line int
	rule string
	text string
	why  string
}

func (v violation) String() string {
	return fmt.Sprintf("%s:%d: %s (%q)", v.file, v.line, v.why, v.text)
}

// check returns the violations in one file's content.
func check(file string, content []byte) []violation {
	var out []violation
	isDoc := strings.HasSuffix(file, ".md")
	dirDepth := 0
	if d := path.Dir(file); d != "." {
		dirDepth = strings.Count(d, "/") + 1
	}
	for i, line := range strings.Split(string(content), "\n") {
		add := func(rule, text, why string) {
			for _, a := range allowed {
				if a.rule != rule || !strings.Contains(line, a.text) {
					continue
				}
				if ok, _ := path.Match(a.file, file); ok || a.file == file {
					return
				}
			}
			out = append(out, violation{file: file, line: i + 1, rule: rule, text: strings.TrimSpace(text), why: why})
		}
		for _, m := range climb.FindAllString(line, -1) {
			if n := strings.Count(m, "../"); n > dirDepth {
				add("climb", m, fmt.Sprintf("a relative path climbs %d levels from %s/, above the repository root (%d up): point inside the repository or at a public URL", n, path.Dir(file), dirDepth))
			}
		}
		if m := workPath.FindString(line); m != "" {
			add("work", line, "an absolute path of a development machine: the repository must stand alone")
		}
		if isDoc {
			if m := tmpPath.FindString(line); m != "" {
				add("tmp", line, "docs refer to a file in a temporary directory outside the repository")
			}
		}
		if m := specRef.FindString(line); m != "" {
			add("spec", m, "a reference to notes outside the repository: state the fact and cite its public source")
		}
		if m := issueWord.FindString(line); m != "" {
			add("issue", m, "an issue number: say what the issue was instead")
		}
		// "#12" is judged in prose only: Markdown, and the comments of code.
		prose := line
		if !isDoc {
			prose = ""
			for _, marker := range []string{"// ", "# "} {
				if _, c, ok := strings.Cut(line, marker); ok {
					prose = c
					break
				}
			}
		}
		// "PKCS #8" is the name of a standard, not an issue.
		prose = pkcs.ReplaceAllString(prose, "PKCS")
		if m := hashNumber.FindString(prose); m != "" {
			add("hash", m, "an issue number (#N): say what the issue was instead")
		}
	}
	return out
}

// trackedFiles lists the repository's tracked files, relative to its root, and the root.
func trackedFiles(t *testing.T) (root string, files []string) {
	t.Helper()
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatalf("git rev-parse: %v (this test reads the tracked files with git)", err)
	}
	root = strings.TrimSpace(string(out))
	cmd := exec.Command("git", "ls-files", "-z")
	cmd.Dir = root
	out, err = cmd.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	for _, f := range strings.Split(string(out), "\x00") {
		if f != "" {
			files = append(files, f)
		}
	}
	if len(files) < 50 {
		t.Fatalf("git ls-files listed %d files: not the repository", len(files))
	}
	return root, files
}

func TestNoReferencesOutsideTheRepository(t *testing.T) {
	root, files := trackedFiles(t)
	var bad []string
	for _, f := range files {
		b, err := os.ReadFile(path.Join(root, f))
		if os.IsNotExist(err) {
			continue // deleted in the work tree, not yet committed
		}
		if err != nil {
			t.Fatal(err)
		}
		if bytes.IndexByte(b, 0) >= 0 {
			continue // binary
		}
		for _, v := range check(f, b) {
			bad = append(bad, v.String())
		}
	}
	if len(bad) > 0 {
		t.Errorf("%d references outside the repository or to issue numbers (fix the line, or add it to allowed in internal/repocheck with the reason):\n%s",
			len(bad), strings.Join(bad, "\n"))
	}
}

// TestCheck shows each rule firing on what it is for, and not on its look-alikes.
func TestCheck(t *testing.T) {
	up2 := strings.Repeat("../", 2)
	for _, tc := range []struct {
		name, file, text string
		want             []string // rules
	}{
		{"link inside the repository", "docs/aws.md", "see [x](" + "../deploy/cloudformation/api.yaml)", nil},
		{"link above the root", "docs/gateway.md", "[SPEC](" + up2 + "shared/x.md) is the contract", []string{"climb"}},
		{"Go test reading the README from two levels down", "internal/config/config_test.go", `os.ReadFile("` + up2 + `README.md")`, nil},
		{"three up from two down", "internal/config/x.go", "// see " + up2 + "../x", []string{"climb"}},
		{"machine path", "bench/run", "cd /" + "work/main", []string{"work"}},
		{"temporary file in docs", "docs/dev.md", "the log is in /" + "tmp/wsgate.log", []string{"tmp"}},
		{"temporary file in a script", "scripts/test", "tee /" + "tmp/wsgate-test.log", nil},
		{"private notes", "internal/x/x.go", "// as SPEC" + " §4 says", []string{"spec"}},
		{"issue word", "docs/benchmarks.md", "fixed in " + "iss" + "ue 7", []string{"issue"}},
		{"issue hash in prose", "CHANGELOG.md", "- the sweeper (" + "#12)", []string{"hash"}},
		{"issue hash in a Go comment", "x/x.go", "x := 1 // see " + "#3", []string{"hash"}},
		{"a standard's name", "docs/cli.md", "(PKCS " + "#8, PKCS " + "#1 or SEC 1 PEM)", nil},
		{"CSS colour", "examples/chat/static/style.css", "color: " + "#444;", nil},
		{"HTML entity", "docs/x.md", "a &" + "#123; b", nil},
		{"Go format verb", "x/x.go", `fmt.Sprintf("%` + `#v", x)`, nil},
		{"hash in a Go string", "x/x_test.go", `src: "color: #fff; ` + `#1"`, nil},
		{"allowed: attack example", "docs/security.md", "`{\"room\":\"" + up2 + "admin/delete\"}`", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, v := range check(tc.file, []byte(tc.text)) {
				got = append(got, v.rule)
				if !strings.HasPrefix(v.String(), tc.file+":1: ") {
					t.Errorf("message %q does not start with file:line", v)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("rules %v, want %v", got, tc.want)
			}
		})
	}
}
