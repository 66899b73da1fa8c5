# wsgate build targets. `make test` runs every check (scripts/test).
GO ?= go

# The Lambda authorizer: a custom-runtime binary named bootstrap, zipped per architecture.
AUTHORIZER_ARCHS := arm64 amd64
AUTHORIZER_BUILDFLAGS := -trimpath -ldflags "-s -w" -tags lambda.norpc

.PHONY: all authorizer build test clean FORCE

all: authorizer

authorizer: $(AUTHORIZER_ARCHS:%=dist/authorizer-%.zip)

# FORCE: go build decides what is stale, make only orders the steps.
dist/authorizer/%/bootstrap: FORCE
	CGO_ENABLED=0 GOOS=linux GOARCH=$* $(GO) build $(AUTHORIZER_BUILDFLAGS) -o $@ ./cmd/authorizer

dist/authorizer-%.zip: dist/authorizer/%/bootstrap
	$(GO) run ./cmd/authorizer/internal/zipbootstrap $< $@

# The wsgate binary in bin/. Its version comes from the build info the go command
# records (-buildvcs=true: commit, commit time, dirty flag, and a module version derived
# from them). In a git worktree the go command records none, so the same facts are also
# stamped with -ldflags -X; `wsgate --version` prefers the build info.
GIT_COMMIT := $(shell git rev-parse HEAD 2>/dev/null)
GIT_TIME := $(shell TZ=UTC git log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd 2>/dev/null)
GIT_DIRTY := $(shell test -n "$$(git status --porcelain 2>/dev/null)" && echo true || echo false)
GIT_DESCRIBE := $(shell git describe --tags --always --dirty 2>/dev/null)
WSGATE_LDFLAGS := -X main.stampCommit=$(GIT_COMMIT) -X main.stampTime=$(GIT_TIME) \
	-X main.stampModified=$(GIT_DIRTY) -X main.stampVersion=$(GIT_DESCRIBE)

build: FORCE
	$(GO) build -trimpath -buildvcs=true -ldflags "$(WSGATE_LDFLAGS)" -o bin/wsgate ./cmd/wsgate

test:
	bash scripts/test

clean:
	rm -rf dist bin

FORCE:
