package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// The stamps `make build` sets with -ldflags -X, for builds whose build information
// has no VCS settings (the go command records none in a git worktree). They are the
// only package variables: -X can set nothing else.
var stampCommit, stampTime, stampModified, stampVersion string

// buildVersion is what `wsgate version` prints, from the binary's build information
// (runtime/debug.ReadBuildInfo): `make build` builds with -buildvcs=true so that the go
// command records the commit, its time and the dirty flag, and derives the main
// module's version from them (a tag, or a pseudo-version, "+dirty" when the tree had
// changes). Without VCS settings, the -X stamps fill in.
type buildVersion struct {
	Module    string `json:"module"`
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	Modified  bool   `json:"modified"`
	Time      string `json:"time,omitempty"`
	GoVersion string `json:"go"`
	Platform  string `json:"platform"`
}

// versionOf reads the build information; ok false (a binary without it) leaves
// "unknown".
func versionOf(info *debug.BuildInfo, ok bool) buildVersion {
	v := versionFromBuildInfo(info, ok)
	if v.Commit == "" && stampCommit != "" {
		v.Commit, v.Time, v.Modified = stampCommit, stampTime, stampModified == "true"
		if stampVersion != "" && (v.Version == "(devel)" || v.Version == "unknown") {
			v.Version = stampVersion
		}
	}
	return v
}

func versionFromBuildInfo(info *debug.BuildInfo, ok bool) buildVersion {
	v := buildVersion{Module: "github.com/wsgate/wsgate", Version: "unknown", GoVersion: runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if !ok || info == nil {
		return v
	}
	if info.Main.Path != "" {
		v.Module = info.Main.Path
	}
	if info.Main.Version != "" {
		v.Version = info.Main.Version
	}
	if info.GoVersion != "" {
		v.GoVersion = info.GoVersion
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		case "vcs.time":
			v.Time = s.Value
		}
	}
	return v
}

// String is the one line `wsgate --version` prints.
func (v buildVersion) String() string {
	s := "wsgate " + v.Version
	if v.Commit != "" {
		s += " (commit " + v.Commit
		if v.Modified {
			s += ", dirty"
		}
		if v.Time != "" {
			s += ", " + v.Time
		}
		s += ")"
	} else {
		s += " (no VCS information: build with `make build` or go build -buildvcs=true)"
	}
	return s + " " + v.GoVersion + " " + v.Platform
}

// version prints the build information, as a line or (--json) an object.
func version(args []string, stdout io.Writer) error {
	fs := newFlagSet("version")
	asJSON := fs.Bool("json", false, "print the build information as a JSON object")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	v := versionOf(debug.ReadBuildInfo())
	if *asJSON {
		return json.NewEncoder(stdout).Encode(v)
	}
	_, err := fmt.Fprintln(stdout, v)
	return err
}
