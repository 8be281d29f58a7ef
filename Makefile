# alexa-skill-credentials: see README.md.
# `make test` is what CI runs (.ci/run); `make demo` runs the whole job locally.

GO       ?= go
GOFLAGS  ?=
export CGO_ENABLED ?= 0

RUNTIME_PKGS = $(shell $(GO) list ./... | grep -v '/infra$$')
# Modules of their own beside the root module (README "Development"): the
# library skill developers import, and the plumbing it shares with the sync.
SUBMODULES = internal/alexahttp skillmessaging

.PHONY: test test-go demo bench bootstrap lint fmt-check vet staticcheck check-moto

## test: every test of the repository (unit, moto integration, Runtime API end-to-end, infra)
test: check-moto test-go test-infra

check-moto:
	@command -v moto_server >/dev/null 2>&1 || { \
	  echo "moto_server not found: the Secrets Manager tests need moto's server."; \
	  echo "Install it with: python3 -m pip install 'moto[server]'"; exit 1; }

test-go:
	CGO_ENABLED=1 $(GO) test -race -count=1 $(RUNTIME_PKGS)
	@for m in $(SUBMODULES); do echo "cd $$m && go test -race -count=1 ./..."; \
	  (cd $$m && CGO_ENABLED=1 $(GO) test -race -count=1 ./...) || exit 1; done

## demo: moto + fake SMAPI/LWA + the real bootstrap under the Runtime Interface Emulator
demo: check-moto
	$(GO) run ./internal/demo

## bench: sync of 1,000 skills against the fake SMAPI, runs under a SMAPI rate limit (BENCH_PACING=off: without pacing), and the size of the arm64 bootstrap
bench: check-moto bootstrap
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1x ./internal/credsync
	@ls -l bin/bootstrap | awk '{printf "bootstrap (linux/arm64, stripped): %.1f MB\n", $$5/1048576}'

## bootstrap: the Lambda binary exactly as the stack builds it
bootstrap:
	mkdir -p bin
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=false -tags lambda.norpc -ldflags '-s -w' -o bin/bootstrap ./lambda

lint: fmt-check vet staticcheck

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...
	@for m in $(SUBMODULES); do echo "cd $$m && go vet ./..."; (cd $$m && $(GO) vet ./...) || exit 1; done

staticcheck:
	$(GO) tool staticcheck ./...
	@sc=$$($(GO) tool -n staticcheck) && for m in $(SUBMODULES); do echo "cd $$m && staticcheck ./..."; \
	  (cd $$m && $$sc ./...) || exit 1; done

# Infrastructure targets (synth, deploy, test-infra) live beside the CDK app.
include infra/infra.mk
