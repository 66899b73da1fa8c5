# wsgate build targets. `make test` runs every check (scripts/test).
GO ?= go

# The Lambda authorizer: a custom-runtime binary named bootstrap, zipped per architecture.
AUTHORIZER_ARCHS := arm64 amd64
AUTHORIZER_BUILDFLAGS := -trimpath -ldflags "-s -w" -tags lambda.norpc

.PHONY: all authorizer test clean FORCE

all: authorizer

authorizer: $(AUTHORIZER_ARCHS:%=dist/authorizer-%.zip)

# FORCE: go build decides what is stale, make only orders the steps.
dist/authorizer/%/bootstrap: FORCE
	CGO_ENABLED=0 GOOS=linux GOARCH=$* $(GO) build $(AUTHORIZER_BUILDFLAGS) -o $@ ./cmd/authorizer

dist/authorizer-%.zip: dist/authorizer/%/bootstrap
	$(GO) run ./cmd/authorizer/internal/zipbootstrap $< $@

test:
	bash scripts/test

clean:
	rm -rf dist

FORCE:
