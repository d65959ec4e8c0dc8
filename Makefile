# Palisade — entry points. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
JEST := node --experimental-vm-modules node_modules/jest/bin/jest.js

.PHONY: help deps build crds lint test test-unit test-integration demo demo-down demo-test

help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

node_modules/.installed: package.json package-lock.json $(wildcard */package.json)
	@# npm ci refuses this lock: the registry here serves no other-platform optional packages (swc, unrs), so the lock cannot list them.
	npm install --no-audit --no-fund
	@touch $@

deps: node_modules/.installed ## install npm packages and the Debian packages the tests need
	@scripts/install-system-deps.sh

build: deps ## type-check and compile every package (tsc -b), and type-check the tests outside src/
	npx tsc -b
	npx tsc -p sidecar/test
	npx tsc -p operator/test

crds: build ## regenerate crds/generated/*.yaml, docs/reference/ and the chart's CRDs from the TypeScript schemas
	node crds/dist/generate.js
	$(MAKE) --no-print-directory chart-sync

lint: deps ## eslint + prettier check
	npx eslint . --max-warnings 0
	npx prettier --check .

test-unit: build ## unit tests (pure modules, schemas, Raft simulation)
	$(JEST) --selectProjects unit

test-integration: build ## integration tests (real sockets, processes, Redis)
	$(JEST) --selectProjects integration --runInBand --passWithNoTests

test: build lint test-unit demo-test test-integration e2e ## everything CI runs: build, lint, unit, demo, integration, e2e

demo: deps ## the main job: Palisade on a local cluster with a demo shop, live traffic and a report
	demo/run.sh

demo-down: ## remove the demo and the local cluster it started; leaves the machine clean
	demo/down.sh

# Plain-JS tests under node's own runner (demo/ is no TypeScript workspace); part of `test`.
demo-test: build ## tests of the demo shop, load driver, policies, dashboard and alert rules
	npx tsc -p demo
	node --test demo/ deploy/

include $(wildcard mk/*.mk)
