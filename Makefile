# kubectl-pgbackrest. `make help` lists the targets.
SHELL := bash
.DEFAULT_GOAL := help

BINARY      := kubectl-pgbackrest
BIN_DIR     := bin
PREFIX      ?= $(HOME)/.local
VERSION_PKG := github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/version

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.0.0-dev)
COMMIT  ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
# The commit's time, not the build's, so the same commit builds the same binary.
DATE    ?= $(shell TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null || echo unknown)
LDFLAGS ?= -s -w -X $(VERSION_PKG).Version=$(VERSION) -X $(VERSION_PKG).Commit=$(COMMIT) -X $(VERSION_PKG).Date=$(DATE)

GO      ?= go
GOFILES  = $(shell find . -name '*.go' -not -path './.git/*' -not -path './vendor/*')

.PHONY: help build install unit lint verify fmt vet clean docs docs-check image-bin image image-push registry-given

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## Build bin/kubectl-pgbackrest (static, version stamped)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN_DIR)/$(BINARY) ./cmd/kubectl-pgbackrest

install: build ## Install the plugin (and its completion shim) into $(PREFIX)/bin
	install -d $(PREFIX)/bin
	install -m 0755 $(BIN_DIR)/$(BINARY) $(PREFIX)/bin/$(BINARY)
	@if [ -f plugins/kubectl_complete-pgbackrest ]; then \
	  install -m 0755 plugins/kubectl_complete-pgbackrest $(PREFIX)/bin/kubectl_complete-pgbackrest; fi
	@echo "installed $(PREFIX)/bin/$(BINARY); make sure $(PREFIX)/bin is on PATH, then run: kubectl pgbackrest version"

unit: ## Run the unit tests (no cluster needed; e2e tests need the e2e build tag)
	$(GO) test ./...

fmt: ## Format the Go code
	gofmt -w $(GOFILES)

vet: ## Run go vet
	$(GO) vet ./...

docs: ## Generate docs/commands/ (one page per command) from the commands' help
	$(GO) run ./cmd/docgen docs/commands

docs-check: ## Fail when docs/commands/ is not what make docs writes
	$(GO) test -count=1 -run TestDocsUpToDate ./pkg/cmd/docgen/

lint: verify ## Same as verify

verify: vet docs-check krew-verify actionlint ## Check formatting, vet, generated docs, go.mod tidiness, the krew manifest (krew validator + real install) and the workflows (actionlint)
	@out=$$(gofmt -l $(GOFILES)); if [ -n "$$out" ]; then echo "not gofmt'ed (run make fmt):"; echo "$$out"; exit 1; fi
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }

# The images of manifests/image/Dockerfile (docs/image.md). `make image` builds them here with
# buildah and a debootstrap base, as root, with no Docker engine (test/cluster/build-image.sh);
# the release workflow builds the same Dockerfile with docker buildx.
IMAGE_ARCHES ?= amd64 arm64
IMAGE_MAJORS ?= 15 17
REGISTRY ?=

image-bin: ## Build the static linux binaries the plugin image carries (bin/image/linux-<arch>/)
	@for arch in $(IMAGE_ARCHES); do \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' \
	    -o $(BIN_DIR)/image/linux-$$arch/$(BINARY) ./cmd/kubectl-pgbackrest || exit 1; \
	done

image: image-bin ## Build the PostgreSQL images (15, 17) and the plugin image as OCI archives (needs root, buildah, debootstrap)
	@for major in $(IMAGE_MAJORS); do bash test/cluster/build-image.sh postgres $$major >/dev/null || exit 1; done
	bash test/cluster/build-image.sh plugin $(BIN_DIR)/image >/dev/null

image-push: registry-given image ## Push the images to REGISTRY (e.g. REGISTRY=registry.example.com/db): postgres:<major>-$(VERSION), kubectl-pgbackrest:$(VERSION)
	bash test/cluster/push-images.sh $(REGISTRY) $(VERSION)

# Before anything is built: a push with no REGISTRY is a usage error.
registry-given:
	@[ -n "$(REGISTRY)" ] || { echo "set REGISTRY, e.g. make image-push REGISTRY=registry.example.com/db"; exit 2; }

clean: ## Remove build output
	rm -rf $(BIN_DIR)

-include krew/release.mk
-include .github/workflows.mk
-include test/cluster/cluster.mk
