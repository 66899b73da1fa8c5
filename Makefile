# wsgate build targets. `make test` runs every check (scripts/test).
GO ?= go

# The Lambda authorizer: a custom-runtime binary named bootstrap, zipped per architecture.
AUTHORIZER_ARCHS := arm64 amd64
AUTHORIZER_BUILDFLAGS := -trimpath -ldflags "-s -w" -tags lambda.norpc

.PHONY: all build image authorizer test clean FORCE

all: build authorizer

# The gateway CLI, static: dist/wsgate.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o dist/wsgate ./cmd/wsgate

# The container image (deploy/container/Containerfile): the static binary and the host's CA
# bundle on scratch. IMAGE names it; PODMAN may be docker.
IMAGE ?= wsgate:latest
PODMAN ?= podman
image:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o deploy/container/wsgate ./cmd/wsgate
	cp /etc/ssl/certs/ca-certificates.crt deploy/container/ca-certificates.crt
	$(PODMAN) build -t $(IMAGE) -f deploy/container/Containerfile deploy/container

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
