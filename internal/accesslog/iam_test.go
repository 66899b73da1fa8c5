package accesslog

import "testing"

// TestIAMIdentityVariables: an AWS_IAM connection's $context.identity fields render; a
// connection without one renders them as "-".
func TestIAMIdentityVariables(t *testing.T) {
	f, err := Compile("$context.identity.accessKey $context.identity.accountId $context.identity.caller $context.identity.user $context.identity.userArn")
	if err != nil {
		t.Fatal(err)
	}
	rec := &Record{IAM: IAMIdentity{AccessKey: "AKID", AccountID: "123456789012", Caller: "AIDA1", User: "AIDA1", UserArn: "arn:aws:iam::123456789012:user/a"}}
	if got, want := string(f.Render(nil, rec)), "AKID 123456789012 AIDA1 AIDA1 arn:aws:iam::123456789012:user/a"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := string(f.Render(nil, &Record{})), "- - - - -"; got != want {
		t.Errorf("without IAM: got %q, want %q", got, want)
	}
}
