# Release archives, the krew manifest and its real install test.
# Included by the main Makefile (`-include krew/release.mk`); also works alone from the repository
# root: `make -f krew/release.mk dist krew krew-verify`. Run it on Linux (GNU tar, coreutils).
#
# The main Makefile may define VERSION and LDFLAGS first; these defaults apply only when it did not.
# Reproducible: CGO_ENABLED=0, -trimpath, and every timestamp taken from SOURCE_DATE_EPOCH (default:
# the last commit's time), so the same commit gives byte-identical archives and checksums.

VERSION_PKG ?= github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/version
ifeq ($(origin SOURCE_DATE_EPOCH),undefined)
SOURCE_DATE_EPOCH := $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
endif
ifeq ($(origin VERSION),undefined)
VERSION := $(shell git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null || echo v0.0.0-dev)
endif
DIST_COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
DIST_DATE := $(shell date -u -d @$(SOURCE_DATE_EPOCH) +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || date -u -r $(SOURCE_DATE_EPOCH) +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS ?= -s -w -X $(VERSION_PKG).Version=$(VERSION) -X $(VERSION_PKG).Commit=$(DIST_COMMIT) -X $(VERSION_PKG).Date=$(DIST_DATE)

DIST_DIR ?= dist
DIST_PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64
KREW_MANIFEST ?= krew/pgbackrest.yaml
KREW_TOOLS_VERSION ?= v0.4.3
KREW_TOOLS_DIR ?= $(HOME)/.cache/kubectl-pgbackrest/tools/krew-$(KREW_TOOLS_VERSION)

.PHONY: dist krew krew-verify

# Evaluated once per make run: VERSION and LDFLAGS may be recursive variables that run git each time
# they are used, and a commit landing mid-run must not give dist and krew different versions.
RELEASE_VERSION := $(VERSION)
RELEASE_LDFLAGS := $(LDFLAGS)

# Handed to the scripts through the environment (not the command line) so quotes in LDFLAGS survive.
dist krew krew-verify: export RELEASE_VERSION := $(RELEASE_VERSION)
dist krew krew-verify: export RELEASE_LDFLAGS := $(RELEASE_LDFLAGS)
dist krew krew-verify: export RELEASE_COMMIT := $(DIST_COMMIT)
dist krew krew-verify: export SOURCE_DATE_EPOCH := $(SOURCE_DATE_EPOCH)
dist krew krew-verify: export DIST_DIR := $(DIST_DIR)
dist krew krew-verify: export DIST_PLATFORMS := $(DIST_PLATFORMS)
dist krew krew-verify: export KREW_TOOLS_DIR := $(KREW_TOOLS_DIR)
dist krew krew-verify: export KREW_TOOLS_VERSION := $(KREW_TOOLS_VERSION)

dist: ## Build the release archives and checksums into dist/ (reproducible; VERSION=v0.1.0 for a release)
	bash krew/dist.sh

krew: dist ## Write krew/pgbackrest.yaml from its template with the version and the archives' sha256
	bash krew/manifest.sh krew/pgbackrest.yaml.tmpl $(KREW_MANIFEST)

krew-verify: krew ## Validate the krew manifest with krew's validator and install it for real with krew
	bash krew/verify.sh $(KREW_MANIFEST)
