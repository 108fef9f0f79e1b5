# Lints the GitHub Actions workflows (.github/workflows/*.yml) and the release scripts they call.
# Included by the main Makefile; `make verify` runs it.
#
# actionlint (from Go modules, pinned, cached like the krew tools) checks the workflows' syntax,
# expressions, action inputs and permissions, and runs shellcheck on every run: block. shellcheck
# is required, not optional: without it actionlint skips the scripts silently and verify would mean
# something else on each machine. It is Debian's package (apt-get install shellcheck, a few seconds;
# GitHub's ubuntu runners have it), installed here when missing and we are root on Debian.

ACTIONLINT_VERSION ?= v1.7.12
ACTIONLINT_DIR ?= $(HOME)/.cache/kubectl-pgbackrest/tools/actionlint-$(ACTIONLINT_VERSION)
ACTIONLINT := $(ACTIONLINT_DIR)/actionlint

.PHONY: actionlint

$(ACTIONLINT):
	@echo "installing actionlint $(ACTIONLINT_VERSION) into $(ACTIONLINT_DIR)"
	@mkdir -p $(ACTIONLINT_DIR)
	GOBIN=$(ACTIONLINT_DIR) $(GO) install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)

actionlint: $(ACTIONLINT) ## Lint .github/workflows with actionlint (and shellcheck on their run: scripts and krew/*.sh)
	@if ! command -v shellcheck >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing shellcheck (apt-get install shellcheck)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q shellcheck >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q shellcheck >/dev/null; } || \
	      { echo "apt-get install shellcheck failed"; exit 1; }; \
	  else \
	    echo "shellcheck is needed (actionlint checks the workflows' run: scripts with it): apt-get install shellcheck, brew install shellcheck"; \
	    exit 1; \
	  fi; \
	fi
	$(ACTIONLINT) -shellcheck=$$(command -v shellcheck) .github/workflows/*.yml
	shellcheck krew/*.sh
