# The local test cluster and everything that runs on it. Included by the Makefile.
CLUSTER_SCRIPTS := test/cluster
PGBR_CACHE_DIR ?= $(HOME)/.cache/kubectl-pgbackrest
PGBR_CLUSTER_DIR ?= $(PGBR_CACHE_DIR)/cluster
export PGBR_CACHE_DIR PGBR_CLUSTER_DIR
E2E_TIMEOUT ?= 60m
E2E_RUN ?= .
# Scenarios that call t.Parallel run this many at a time (go test's default is GOMAXPROCS, 2 here):
# they mostly wait on pods, PostgreSQL and pgBackRest, each in its own namespace.
E2E_PARALLEL ?= 4

.PHONY: cluster-up cluster-down cluster-wipe lab-images e2e demo test bench bench-host

cluster-up: ## Start the local Kubernetes cluster, S3 server and image (builds and caches what it needs)
	bash $(CLUSTER_SCRIPTS)/up.sh

cluster-down: ## Stop the local cluster (keeps its state and the build caches)
	bash $(CLUSTER_SCRIPTS)/down.sh

cluster-wipe: ## Stop the local cluster and remove its state (keeps the build caches)
	bash $(CLUSTER_SCRIPTS)/down.sh --wipe

# The default images of this build (ghcr.io/kubectl-pgbackrest/postgres:<major>-$(VERSION) and the
# plugin image), pushed to the lab registry that containerd's ghcr.io mirror reads; and the lab tags
# (postgres:<major>-lab, PGBR_IMAGE_<major>) moved to what the recipe builds now.
lab-images: IMAGE_ARCHES := amd64
lab-images: cluster-up image
	. $(PGBR_CLUSTER_DIR)/env && export REGISTRY_AUTH_FILE=$$PGBR_REGISTRY_AUTH_FILE REGISTRY_CERT_DIR=$$PGBR_REGISTRY_CERT_DIR && \
	  bash test/cluster/push-images.sh $$PGBR_REGISTRY/kubectl-pgbackrest $(VERSION) && \
	  bash test/cluster/push-images.sh $$PGBR_REGISTRY/kubectl-pgbackrest lab

e2e: build lab-images ## Run the end-to-end tests against the local cluster with the built binary
	. $(PGBR_CLUSTER_DIR)/env && PATH="$(CURDIR)/bin:$$PATH" \
	  go test -tags e2e -count=1 -timeout $(E2E_TIMEOUT) -parallel $(E2E_PARALLEL) -run '$(E2E_RUN)' -v ./test/e2e/... 2>&1 | tee $(PGBR_CLUSTER_DIR)/e2e.log; \
	  exit $${PIPESTATUS[0]}

demo: build lab-images ## Run the main job (configure S3, create, backup, info, restore) on the local cluster
	. $(PGBR_CLUSTER_DIR)/env && PATH="$(CURDIR)/bin:$$PATH" bash test/demo.sh

test: verify unit e2e ## Run all tests: the checks of make verify (formatting, vet, generated docs, tidy go.mod, krew manifest, workflows), unit tests, then end-to-end tests on the local cluster

bench: build lab-images bench-host ## Measure backup, restore, latency, API requests (against pgBackRest run directly and tar) and an S3 outage's cost (BENCH_SCALE=50; writes test/bench/results)
	. $(PGBR_CLUSTER_DIR)/env && PATH="$(CURDIR)/bin:$$PATH" go run ./test/bench

# The direct runs need PostgreSQL 15 and pgBackRest on this machine, as the image has them.
bench-host:
	@if [ ! -x /usr/lib/postgresql/15/bin/initdb ] || ! command -v pgbackrest >/dev/null; then \
	  echo "installing postgresql-15 and pgbackrest for the direct runs"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql-15 pgbackrest; \
	fi
