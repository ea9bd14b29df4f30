# kubectl-gitlab-flux — developer entry points. `make help` lists them.
SHELL := /bin/bash
CARGO ?= cargo
PREFIX ?= $(HOME)/.local
BINDIR ?= $(PREFIX)/bin
BIN := kubectl-gitlab_flux
SANDBOX_DIR ?= $(CURDIR)/target/sandbox

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

.PHONY: deps
deps: ## Check (and as root, install) what tests and the sandbox need: docker-registry, kubectl
	@scripts/deps.sh

.PHONY: build
build: ## Build the release binary (target/release/kubectl-gitlab_flux)
	$(CARGO) build --release --locked

.PHONY: install
install: build ## Install the plugin and its completion helper into $(BINDIR) (default ~/.local/bin)
	install -d $(BINDIR)
	install -m 0755 target/release/$(BIN) $(BINDIR)/$(BIN)
	@if [ -f completions/kubectl_complete-gitlab_flux ]; then install -m 0755 completions/kubectl_complete-gitlab_flux $(BINDIR)/kubectl_complete-gitlab_flux; fi
	@echo "installed $(BINDIR)/$(BIN); try: kubectl gitlab-flux version"

# REAL=1: `make sandbox` and `make demo` run on the real cluster (etcd,
# kube-apiserver, the Flux controllers; built by `make realbed`) instead of
# the API emulator and the Flux simulator.
REAL ?=
REALBED := tests/support/realbed/build.sh

.PHONY: realbed
realbed: ## Build the real cluster's programs that are missing (etcd, kube-apiserver, Flux controllers, peers) into ~/.cache, by version
	@$(REALBED)

.PHONY: test
test: deps realbed ## Run every test (unit, CLI, registry, API emulator, simulator, real cluster, end to end)
	$(CARGO) test --workspace --locked --no-fail-fast

.PHONY: lint
lint: ## cargo fmt --check and clippy -D warnings
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

.PHONY: sandbox
sandbox: deps $(if $(REAL),realbed) ## Start a local registry + Kubernetes API emulator + Flux simulator (REAL=1: real cluster; Ctrl-C stops)
	$(CARGO) run --locked -q -p testbed --bin gitlab-flux-sandbox -- --dir $(SANDBOX_DIR) $(if $(REAL),--real)

.PHONY: demo
demo: deps $(if $(REAL),realbed) ## The main job on the local sandbox: push, trigger, wait (REAL=1: on the real cluster)
	$(CARGO) build --locked -q --bin $(BIN)
	$(CARGO) build --locked -q -p testbed --bin gitlab-flux-sandbox
	REAL=$(REAL) scripts/demo.sh

.PHONY: bench
bench: deps realbed ## Benchmarks against peers, side by side, on the emulator and on the real cluster (BENCH_TRIALS=3 for a quick run; docs/benchmarks.md)
	scripts/bench.sh

DIST_DIR ?= dist
PROFILE ?= release
VERSION := $(shell sed -n '/^\[package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
LINUX_ARCHIVE := $(DIST_DIR)/$(BIN)_v$(VERSION)_linux_amd64.tar.gz
RELEASE_TOOL = $(CARGO) run --locked -q -p gitlab-flux-release --
# IMAGE=host[:port]/repository[:tag] pushes the image (tag default v$(VERSION)).
IMAGE ?=

.PHONY: dist
dist: ## Release archives into dist/ (static musl on Linux; PLATFORMS=linux_amd64, PROFILE=release)
	scripts/dist.sh --out $(DIST_DIR) --profile $(PROFILE) $(if $(PLATFORMS),--platform "$(PLATFORMS)")

.PHONY: krew
krew: ## krew/gitlab-flux.yaml from the archives in dist/ (their real sha256)
	$(RELEASE_TOOL) krew --dist $(DIST_DIR) --out krew/gitlab-flux.yaml

.PHONY: image
image: ## Container image into dist/image (OCI layout + tar); IMAGE=host/repo:tag pushes it
	scripts/dist.sh --out $(DIST_DIR) --profile $(PROFILE) --platform linux_amd64 --strict
	$(RELEASE_TOOL) image --binary $(LINUX_ARCHIVE) --layout $(DIST_DIR)/image \
	  --archive $(DIST_DIR)/kubectl-gitlab-flux_v$(VERSION)_image_linux_amd64.tar \
	  $(if $(IMAGE),--push $(IMAGE))

.PHONY: clean
clean: ## Remove build output
	$(CARGO) clean
	rm -rf dist

.PHONY: completions
completions: ## Regenerate the completion scripts in completions/
	$(CARGO) build --locked -q --bin $(BIN)
	for s in bash zsh fish powershell elvish; do target/debug/$(BIN) completion $$s > completions/$(BIN).$$s; done
