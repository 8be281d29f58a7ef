# alexa-skill-credentials: see README.md and docs/.
# `make test` is what CI runs (.ci/run); `make demo` runs the whole job locally.

GO       ?= go
GOFLAGS  ?=
export CGO_ENABLED ?= 0

RUNTIME_PKGS = $(shell $(GO) list ./... | grep -v '/infra$$')
# Modules of their own beside the root module (docs/development.md): the
# library skill developers import (its plumbing is inside it, skillmessaging/internal).
SUBMODULES = skillmessaging

.PHONY: test test-runtime test-submodules node-snippet-deps python-tools demo bench mutation bootstrap lint fmt-check vet staticcheck actionlint

# The Python tools (moto's server, boto3, cfn-lint) at the versions of
# requirements-dev.txt: the ones on PATH when they are those versions, else a
# virtual environment in $(PYTOOLS_VENV) that python-tools creates, and that
# every recipe finds first on its PATH.
PYTOOLS_VENV := .venv
# pyenv puts a shim in front of each Python tool: a bash script that runs
# `pyenv exec` before the tool, about 0.4 s of CPU a call, and make test calls
# moto_server, cfn-lint and the aws CLI some 60 times. When they come from
# pyenv, the directory the shim would run them from goes on PATH just before
# the shims: the same executables, without the detour.
PYENV_SHIMS := $(shell command -v pyenv >/dev/null 2>&1 && printf '%s/shims' "$$(pyenv root)")
PYENV_BIN   := $(if $(PYENV_SHIMS),$(shell d=$$(pyenv which moto_server 2>/dev/null) && dirname "$$d"))
ifneq ($(PYENV_BIN),)
PATH := $(shell printf ':%s:' "$$PATH" | sed 's|:$(PYENV_SHIMS):|:$(PYENV_BIN):$(PYENV_SHIMS):|; s|^:||; s|:$$||')
endif
export PATH := $(CURDIR)/$(PYTOOLS_VENV)/bin:$(PATH)

## test: every test of the repository (unit, moto integration, Runtime API end-to-end, docs' CLI commands, infra with cdk-nag and cfn-lint)
# The three groups run side by side (their output is printed a group at a
# time, as each ends); most packages spend their time waiting for moto, the
# AWS CLI or the Runtime Interface Emulator, so go test runs TEST_P packages
# at a time rather than one per core.
TEST_P ?= 4
test: python-tools node-snippet-deps
	@$(MAKE) --no-print-directory -j3 --output-sync=target test-runtime test-submodules test-infra

## python-tools: moto's server, boto3 and cfn-lint at the versions of requirements-dev.txt, from PATH or else installed into .venv/ (pip, from PyPI); PYTOOLS_FLAGS=-n only reports
python-tools:
	@$(GO) run ./internal/cmd/pytools -requirements requirements-dev.txt -venv $(PYTOOLS_VENV) $(PYTOOLS_FLAGS)

## test-runtime: the root module's packages but infra, with the race detector
test-runtime: node-snippet-deps
	CGO_ENABLED=1 $(GO) test -race -count=1 -p $(TEST_P) $(RUNTIME_PKGS)

## test-submodules: the tests of skillmessaging (a module of its own), with the race detector
test-submodules:
	@for m in $(SUBMODULES); do echo "cd $$m && go test -race -count=1 ./..."; \
	  (cd $$m && CGO_ENABLED=1 $(GO) test -race -count=1 -p $(TEST_P) ./...) || exit 1; done

## node-snippet-deps: the AWS SDK v3 the Node.js snippet of docs/skill-lambdas.md runs with in make test, pinned in
## examples/node/package-lock.json (npm ci only when the lock changed)
NODE_SNIPPET_DIR := examples/node
node-snippet-deps: $(NODE_SNIPPET_DIR)/node_modules/.package-lock.json

$(NODE_SNIPPET_DIR)/node_modules/.package-lock.json: $(NODE_SNIPPET_DIR)/package.json $(NODE_SNIPPET_DIR)/package-lock.json
	npm ci --prefix $(NODE_SNIPPET_DIR) --no-audit --no-fund
	@touch $@

## demo: moto + fake SMAPI/LWA + the real bootstrap under the Runtime Interface Emulator
demo: python-tools
	$(GO) run ./internal/cmd/demo

## bench: sync of 1,000 skills against the fake SMAPI, runs under a SMAPI rate limit (BENCH_PACING=off: without pacing), and the size of the arm64 bootstrap
bench: python-tools bootstrap
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1x ./internal/credsync
	@ls -l bin/bootstrap | awk '{printf "bootstrap (linux/arm64, stripped): %.1f MB\n", $$5/1048576}'

## mutation: mutation testing with gremlins (pinned in go.mod) of the packages
## whose tests carry the README's promises; prints each package's surviving
## mutants, test efficacy and mutator coverage. Slow (about 25 minutes on two
## cores), so not part of make test; the figures are in docs/development.md.
## The fakes beside what they fake, internal/store/storetest,
## internal/smapi/smapitest and skillmessaging/skillmessagingtest, are test
## doubles, left out (gremlins mutates every file below its target). A package
## of a module of its own (skillmessaging and skillmessaging/internal/alexahttp)
## is mutated from that module's directory; skillmessaging's run leaves out
## internal/alexahttp (paths relative to the target), which has its own run.
MUTATION_PKGS = internal/contract internal/smapi internal/store internal/credsync internal/config skillmessaging skillmessaging/internal/alexahttp
mutation: python-tools
	@gr=$$($(GO) tool -n gremlins) || exit 1; summary=""; for p in $(MUTATION_PKGS); do \
	  echo "== $$p"; \
	  dir=.; target=./$$p; for m in $(SUBMODULES); do case $$p in $$m) dir=$$m; target=.;; $$m/*) dir=$$m; target=./$${p#$$m/};; esac; done; \
	  out=$$(cd $$dir && GOFLAGS="$$GOFLAGS -count=1" $$gr unleash --output-statuses lt --timeout-coefficient 5 --exclude-files 'storetest/' --exclude-files 'smapitest/' --exclude-files 'skillmessagingtest/' --exclude-files '^internal/alexahttp/' $$target 2>&1); \
	  eff=$$(echo "$$out" | sed -n 's/^Test efficacy: //p'); cov=$$(echo "$$out" | sed -n 's/^Mutator coverage: //p'); \
	  if [ -z "$$eff" ]; then echo "$$out"; else echo "$$out" | grep -E 'LIVED|TIMED OUT|Killed:|Timed out:'; fi; \
	  summary="$$summary$$(printf '%-24s efficacy %8s   mutator coverage %8s' $$p "$${eff:-failed}" "$${cov:-failed}")\n"; \
	done; echo "== summary (target: efficacy >= 90%, mutator coverage >= 75%)"; printf '%b' "$$summary"

## bootstrap: the Lambda binary exactly as the stack builds it
bootstrap:
	mkdir -p bin
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=false -tags lambda.norpc -ldflags '-s -w' -o bin/bootstrap ./lambda

lint: fmt-check vet staticcheck actionlint

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...
	@for m in $(SUBMODULES); do echo "cd $$m && go vet ./..."; (cd $$m && $(GO) vet ./...) || exit 1; done

staticcheck:
	$(GO) tool staticcheck ./...
	@sc=$$($(GO) tool -n staticcheck) && for m in $(SUBMODULES); do echo "cd $$m && staticcheck ./..."; \
	  (cd $$m && $$sc ./...) || exit 1; done

# actionlint (pinned in go.mod as a tool) checks the GitHub Actions workflows
# in .github/workflows/, and the shell scripts in them when shellcheck is on
# PATH.
actionlint:
	$(GO) tool actionlint

# Infrastructure targets (synth, deploy, test-infra) live beside the CDK app.
include infra/infra.mk
