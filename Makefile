# ECR image scanner — build, test, run locally, deploy.
# `make help` lists the targets. Everything AWS-shaped runs against moto on
# loopback unless AWS_ENDPOINT_URL is unset and real credentials are present.

SHELL        := bash
.SHELLFLAGS  := -eu -o pipefail -c
GO           ?= go
PYTHON       ?= python3
VENV         := .venv
VENV_STAMP   := $(VENV)/.installed
REQUIREMENTS := infra/ops/local/requirements.txt
TEMPLATE     := infra/ops/stack/template.yaml
SPOKE        := infra/ops/stack/spoke.yaml
BUILD        := build
FUNCTIONS    := $(filter-out ecrscan,$(notdir $(patsubst %/main.go,%,$(wildcard handlers/*/main.go))))
GOTESTFLAGS  ?=
EVENT        ?=
ARGS         ?=

export CGO_ENABLED ?= 0

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show all targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV_STAMP): $(REQUIREMENTS)
	@echo "==> Python virtualenv with moto, cfn-lint and checkov ($(VENV), $$(date +%T))"
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r $(REQUIREMENTS)
	@touch $@

.PHONY: venv
venv: $(VENV_STAMP) ## Create the Python virtualenv (moto, cfn-lint, checkov)

.PHONY: test
test: $(VENV_STAMP) ## Run every check: gofmt, go vet, unit and moto integration tests, template lint
	@echo "==> gofmt ($$(date +%T))"
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './$(VENV)/*')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@echo "==> go vet ($$(date +%T))"
	$(GO) vet ./... ./testdata/qscanner-standin
	@echo "==> go test ($$(date +%T))"
	$(GO) test -count=1 -timeout 20m $(GOTESTFLAGS) ./...
	@$(MAKE) --no-print-directory lint-template

.PHONY: lint-template
lint-template: $(VENV_STAMP) ## Lint the CloudFormation template with cfn-lint and checkov
	@echo "==> cfn-lint $(TEMPLATE) ($$(date +%T))"
	$(VENV)/bin/cfn-lint $(TEMPLATE)
	@echo "==> checkov $(TEMPLATE) ($$(date +%T))"
	$(VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation -f $(TEMPLATE)
	@echo "==> cfn-lint and checkov $(SPOKE) ($$(date +%T))"
	$(VENV)/bin/cfn-lint $(SPOKE)
	$(VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation -f $(SPOKE)

# Native Go fuzz targets, one package/target pair a line. Go fuzzes one target
# per `go test -fuzz` run, so they run one after another; the first crash
# stops the run (the crasher lands in the package's testdata/fuzz/).
FUZZTIME    ?= 60s
FUZZMINTIME ?= 10s
FUZZ_TARGETS := \
  ./events:FuzzDecodePush \
  ./events:FuzzStreamRecord \
  ./handlers/enrich:FuzzEnrich \
  ./infra/qscanner:FuzzParseScanResult \
  ./infra/qscanner:FuzzParseSARIF \
  ./handlers/alert:FuzzAlertMessage \
  ./handlers/securityhub:FuzzFindings

.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (default 60s) in turn; exit 1 on a crash
	@for pt in $(FUZZ_TARGETS); do \
	  pkg=$${pt%%:*}; target=$${pt##*:}; \
	  echo "==> fuzz $$target in $$pkg for $(FUZZTIME) ($$(date +%T))"; \
	  $(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINTIME) $$pkg || exit 1; \
	done

# The whole local pipeline under seeded faults (infra/ops/chaos): 500 pushes
# over 100 digests. `go test ./...` (make test) runs the small size of the
# same seed. CHAOS_SEED=n reproduces a run.
CHAOS_SEED ?=
.PHONY: chaos
chaos: $(VENV_STAMP) ## Run the pipeline under seeded faults, 500 pushes (CHAOS_SEED=n to reproduce a run)
	CHAOS_SIZE=full CHAOS_SEED=$(CHAOS_SEED) $(GO) test -count=1 -timeout 30m -run '^TestChaos$$' -v ./infra/ops/chaos

.PHONY: bench
bench: ## Run the benchmarks (parsing, decoding, report upload; peak-MB: each downstream function's peak heap on a 100,000-finding report)
	$(GO) test -run '^$$' -bench . -benchmem ./...

.PHONY: run
run: $(VENV_STAMP) ## Run the whole pipeline locally on moto: push -> scan -> record -> bus -> handlers (EVENT=file.json to send your own, EVENT=testdata/events for every sample)
	$(GO) run ./handlers/ecrscan run-local $(if $(EVENT),--event $(EVENT)) $(ARGS)

.PHONY: build
build: ## Build each function's bootstrap zip for provided.al2023 into build/
	@mkdir -p $(BUILD)
	@for fn in $(FUNCTIONS); do \
	  arch=arm64; [ "$$fn" = scan ] && arch=$${SCAN_GOARCH:-amd64}; \
	  echo "==> $$fn (linux/$$arch)"; \
	  mkdir -p $(BUILD)/$$fn; \
	  GOOS=linux GOARCH=$$arch $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w' -o $(BUILD)/$$fn/bootstrap ./handlers/$$fn; \
	  (cd $(BUILD)/$$fn && rm -f ../$$fn.zip && $(PYTHON) -c 'import sys,zipfile; z=zipfile.ZipFile(sys.argv[1],"w",zipfile.ZIP_DEFLATED); i=zipfile.ZipInfo("bootstrap"); i.external_attr=0o755<<16; i.compress_type=zipfile.ZIP_DEFLATED; z.writestr(i, open("bootstrap","rb").read()); z.close()' ../$$fn.zip); \
	done
	@ls -l $(BUILD)/*.zip

.PHONY: clean
clean: ## Remove build artifacts
	rm -rf $(BUILD)

# ------------------------------------------------------------------ deploy
# The stack's parameters come from the environment: QUALYS_POD, and the token
# as QUALYS_ACCESS_TOKEN (stored in a new secret) or QUALYS_TOKEN_SECRET_ARN
# (an existing secret), SCAN_TYPES, CACHE_TTL_DAYS, ALERT_EMAIL, … — the full
# mapping is in `go run ./handlers/ecrscan deploy -h`. An unset variable keeps
# the deployed value. STACK_NAME defaults to qualys-ecr-scanner;
# QSCANNER_LAYER_BIN to build/layer/bin/qscanner; AWS_ENDPOINT_URL aims
# everything at moto.
ECRSCAN  := $(GO) run ./handlers/ecrscan
FUNCTION ?=
FORCE    ?=

.PHONY: deploy
deploy: ## Build, package (QScanner layer) and upload, then create or update the stack
	$(ECRSCAN) deploy $(ARGS)

.PHONY: deploy-spoke
deploy-spoke: ## Deploy the spoke stack in a member account and region (HUB_ACCOUNT=…, HUB_REGION=…, with the member's credentials)
	$(ECRSCAN) deploy-spoke $(ARGS)

.PHONY: update
update: ## Update Lambda code only (UpdateFunctionCode; FUNCTION=scan for one)
	$(ECRSCAN) update $(if $(FUNCTION),--function $(FUNCTION)) $(ARGS)

.PHONY: logs
logs: ## Tail Lambda logs (FUNCTION=scan for one)
	$(ECRSCAN) logs $(if $(FUNCTION),--function $(FUNCTION)) $(ARGS)

.PHONY: status
status: ## Show stack status, resources and outputs
	$(ECRSCAN) stack-status $(ARGS)

.PHONY: validate
validate: lint-template ## Validate CloudFormation: cfn-lint, checkov and the Go template tests (no AWS account)
	$(GO) test -count=1 ./infra/ops/stack/...

.PHONY: verify
verify: ## Verify the stack and the Qualys integration (PASS/FAIL/SKIP, exit 1 on FAIL); PROBE=1 also follows a probe image end to end
	$(ECRSCAN) verify $(if $(filter 1 true yes,$(PROBE)),--probe) $(ARGS)

.PHONY: destroy
destroy: ## Delete the stack, emptying its deletable buckets first (asks unless FORCE=1)
	$(ECRSCAN) destroy $(if $(filter 1 true yes,$(FORCE)),--yes) $(ARGS)
