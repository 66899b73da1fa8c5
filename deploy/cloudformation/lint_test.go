package cloudformation_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestCfnLint runs cfn-lint, AWS's CloudFormation linter (it knows every resource's
// properties, their allowed values and the best practices goformation's schema does not),
// over every template here: zero errors and zero warnings.
func TestCfnLint(t *testing.T) {
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Fatal("cfn-lint is not installed: the templates are checked with it (install it with pipx install cfn-lint, or pip install cfn-lint; it is preinstalled on the project's machines)")
	}
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no templates: %v", err)
	}
	// --format parseable: one finding a line, file:line:column:...:rule:message.
	out, err := exec.Command(bin, append([]string{"--format", "parseable"}, files...)...).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("cfn-lint %s: %v (exit status 2 means errors, 4 warnings, 8 informational); fix every finding:\n%s",
			strings.Join(files, " "), err, out)
	}
}

// TestParameterDescriptions: every Parameter of every template says what it is for, which
// is what the console and `aws cloudformation describe-stacks` show the person deploying.
func TestParameterDescriptions(t *testing.T) {
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no templates: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		params, _ := longForm(t, b)["Parameters"].(map[string]any)
		var missing []string
		for name, p := range params {
			d, _ := p.(map[string]any)["Description"].(string)
			if strings.TrimSpace(d) == "" {
				missing = append(missing, name)
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			t.Errorf("%s: Parameters without a Description: %s", f, strings.Join(missing, ", "))
		}
	}
}
