# lake-ingest: the two commands are `make demo` and `make test`; everything else is a building block.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CHECKOV_VENV ?= .venv-checkov
CHECKOV_VERSION ?= 3.3.30
IAMLINT_VENV ?= .venv-iamlint
# The offline IAM policy simulator (npm, test-only, pinned by tests/policy/package-lock.json).
IAMSIM_DIR ?= .iamsim
# Offline provider installs: a filesystem mirror (the folder holding registry.terraform.io/...).
# Unset: look for one on disk (scripts/find-tf-mirror.sh). Empty: use the registry as usual.
ifeq ($(origin TF_PLUGIN_DIR),undefined)
TF_PLUGIN_DIR := $(shell sh scripts/find-tf-mirror.sh)
endif
export TF_PLUGIN_DIR
# Terraform reads only the CLI config written here (the machine's may point at a missing file).
export TF_CLI_CONFIG_FILE := $(CURDIR)/.tfcli.rc
export TF_IN_AUTOMATION := 1
TF_INIT := terraform init -input=false -backend=false $(if $(TF_PLUGIN_DIR),-plugin-dir=$(TF_PLUGIN_DIR))
TF_DIRS := . $(wildcard modules/*) $(wildcard examples/*)
TF_TEST_DIRS := . modules/lake modules/reader_policy

.PHONY: help venv demo test bench docs policy-matrix lint py-test tf-fmt tf-validate tf-test checkov package clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(TF_CLI_CONFIG_FILE):
	@: > $@

$(VENV)/.installed: requirements-dev.txt lambda_src/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# The handler's package on the venv's path (a .pth file), so that `python -m lake_ingest ...` runs from
# any directory once the venv is active (`. .venv/bin/activate`), with no PYTHONPATH.
$(VENV)/.lake_ingest_on_path: $(VENV)/.installed
	$(PY) -c 'import site, sys; open(site.getsitepackages()[0] + "/lake_ingest_src.pth", "w").write(sys.argv[1] + "\n")' "$(CURDIR)/lambda_src"
	touch $@

$(CHECKOV_VENV)/.installed:
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet checkov==$(CHECKOV_VERSION)
	touch $@

$(IAMLINT_VENV)/.installed:
	$(PYTHON) -m venv $(IAMLINT_VENV)
	$(IAMLINT_VENV)/bin/pip install --quiet parliament==1.6.4 cloudsplaining==0.9.1
	touch $@

$(IAMSIM_DIR)/.installed: tests/policy/package.json tests/policy/package-lock.json
	mkdir -p $(IAMSIM_DIR)
	cp tests/policy/package.json tests/policy/package-lock.json $(IAMSIM_DIR)/
	npm ci --prefix $(IAMSIM_DIR) --no-audit --no-fund --loglevel=error
	touch $@

venv: $(VENV)/.installed $(VENV)/.lake_ingest_on_path ## create .venv with the handler's and the tests' dependencies

demo: venv $(TF_CLI_CONFIG_FILE) ## deploy one source to a local AWS and ingest from a local sample API (KEEP=1 keeps it up)
	$(PY) -m scripts.demo

demo-push: venv $(TF_CLI_CONFIG_FILE) ## push (webhook) sources on a local AWS: signed and forged events in, rows out (KEEP=1 keeps it up)
	$(PY) -m scripts.demo_push

.PHONY: try backfill stop demo-push
try: venv ## try a source against a local AWS, no account: make try SOURCE=source.json [CREDENTIALS=file] [LAKE=dir]
	@test -n "$(SOURCE)" || { echo "usage: make try SOURCE=path/to/source.json [CREDENTIALS=credentials.json] [LAKE=dir, kept between tries] (template: examples/try/source.json)" >&2; exit 1; }
	@PYTHONPATH=lambda_src $(PY) -m lake_ingest try "$(SOURCE)" $(if $(CREDENTIALS),--credentials "$(CREDENTIALS)") $(if $(LAKE),--lake "$(LAKE)")

backfill: venv ## start a backfill on AWS: make backfill SOURCE=source.json FROM=2021-01-01 TO=2026-01-01 [STEP=1d] [ID=id] [CONCURRENCY=n]
	@test -n "$(SOURCE)" -a -n "$(FROM)" -a -n "$(TO)" || { echo "usage: make backfill SOURCE=source.json FROM=2021-01-01 TO=2026-01-01 [STEP=1d] [ID=id] [CONCURRENCY=n] (source.json: terraform output -raw source_json; the usual AWS_PROFILE/AWS_REGION apply)" >&2; exit 1; }
	@PYTHONPATH=lambda_src $(PY) -m lake_ingest backfill start --config "$(SOURCE)" --from "$(FROM)" --to "$(TO)" $(if $(STEP),--step "$(STEP)") $(if $(ID),--id "$(ID)") $(if $(CONCURRENCY),--max-concurrency "$(CONCURRENCY)")

stop: ## stop the servers `make demo KEEP=1` (or `make demo-push KEEP=1`) left running
	@$(if $(wildcard $(PY)),$(PY),$(PYTHON)) -m scripts.demo --stop

# pytest waits much of its time (on the applies' polling, on subprocesses), so it runs beside the other
# checks, and they run one after another (CHECKS_IN_TURN, below); two jobs at a time also install the
# virtual environments two at a time. --output-sync prints each step's output whole, when it ends, and
# pytest's summary line is printed again last.
test: ## everything CI runs: pytest beside lint, tf-fmt, tf-validate, tf-test and checkov in turn
	@$(MAKE) --no-print-directory --jobs=2 --output-sync=target CHECKS_IN_TURN=1 \
	  py-test lint tf-fmt tf-validate tf-test checkov
	@tail -n 1 .pytest.out && rm -f .pytest.out

ifdef CHECKS_IN_TURN
# One at a time beside pytest: more would only share the same two cores, and tf-validate and tf-test
# run terraform init in the same folders. The long ones yield the CPU to pytest (nice), whose tests of
# deadlines and timeouts measure time; they get what pytest leaves while it waits.
tf-fmt: | lint
tf-validate: | tf-fmt
tf-test: | tf-validate
checkov: | tf-test
BESIDE_PYTEST := nice -n 10
PYTEST_OUT := | tee .pytest.out
endif

docs: venv ## regenerate the generated tables (docs/inputs-outputs.md, docs/handler-contract.md, submodule READMEs)
	$(PY) -m scripts.docs

policy-matrix: venv $(IAMSIM_DIR)/.installed $(TF_CLI_CONFIG_FILE) ## apply examples/multi-source and examples/push locally, evaluate every policy offline, rewrite the matrix table in docs/security.md
	PYTHONPATH=lambda_src:. $(PY) -m scripts.policy_matrix --update-docs

bench: venv package $(TF_CLI_CONFIG_FILE) ## naive vs lake-ingest at 10 MiB-1 GiB (time, RSS, bytes), cold start, zip size, plan at 5/50 sources, backfill at max_concurrency 1 vs 5, push: events/s one endpoint accepts and the objects that land
	$(PY) -m bench.ingest_bench
	$(PY) -m bench.cold_start
	$(PY) -m bench.plan_scale
	$(PY) -m bench.backfill_bench
	$(PY) -m bench.refresh_bench
	$(PY) -m bench.push_bench

lint: venv $(TF_CLI_CONFIG_FILE) ## ruff, mypy (strict) on lambda_src, terraform fmt -check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	terraform fmt -check -recursive

# Two pytest-xdist workers, one test file at a time each (the files sharing an applied session fixture
# as one): tests/xdist_units.py. PYTEST_WORKERS=0 runs them in this one process, in file order.
PYTEST_WORKERS ?= 2
py-test: venv $(IAMLINT_VENV)/.installed $(IAMSIM_DIR)/.installed $(TF_CLI_CONFIG_FILE) ## pytest: handler, packaging, local-AWS shims, module applied end to end, policy evaluation matrix
	$(PY) -m pytest $(if $(filter-out 0,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder) $(PYTEST_OUT)

tf-fmt: $(TF_CLI_CONFIG_FILE) ## terraform fmt -check on every configuration
	terraform fmt -check -recursive -diff

tf-validate: $(TF_CLI_CONFIG_FILE) ## terraform validate on the root, the submodules and every example
	@for dir in $(TF_DIRS); do \
	  echo "validate $$dir"; \
	  (cd $$dir && $(BESIDE_PYTEST) $(TF_INIT) >/dev/null && $(BESIDE_PYTEST) terraform validate -no-color); \
	done

tf-test: $(TF_CLI_CONFIG_FILE) ## terraform test: rendered policies in three partitions (offline), settings and input validation
	@for dir in $(TF_TEST_DIRS); do \
	  echo "terraform test $$dir"; \
	  (cd $$dir && $(BESIDE_PYTEST) $(TF_INIT) >/dev/null && $(BESIDE_PYTEST) terraform test -no-color); \
	done

checkov: $(CHECKOV_VENV)/.installed ## checkov on the module: zero failures, every skip inline with its reason
	@# checkov exits 0 when it cannot parse a file (and then checks nothing in it): fail on that too.
	$(BESIDE_PYTEST) $(CHECKOV_VENV)/bin/checkov --directory . --framework terraform --skip-download --compact --quiet \
	  --skip-path examples --skip-path tests --skip-path $(VENV) --skip-path $(CHECKOV_VENV) --skip-path $(IAMLINT_VENV) --skip-path $(IAMSIM_DIR) \
	  | tee .checkov.out
	@! grep -q "Parsing errors" .checkov.out || { echo "checkov could not parse a file (see above): it checked nothing in it"; exit 1; }
	@rm -f .checkov.out

package: venv ## build the Lambda zip into dist/ (for package_path on runners without Python)
	$(PY) -c 'import json, pathlib; print(json.dumps(sorted(p.relative_to("lambda_src").as_posix() for p in pathlib.Path("lambda_src").rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc" and p.name != "requirements.txt")))' > .package-files.json
	$(PY) modules/package/build.py --source-dir lambda_src --files "$$(cat .package-files.json)" \
	  --requirements lambda_src/requirements.txt --cache-dir .build --output dist/lake-ingest.zip
	rm -f .package-files.json

clean: ## remove virtual environments, build output and Terraform working files
	rm -rf $(VENV) $(CHECKOV_VENV) $(IAMLINT_VENV) $(IAMSIM_DIR) .build dist .demo .tfcli.rc .pytest_cache .ruff_cache .pytest.out
	find . -name .terraform -type d -prune -exec rm -rf {} +
	find . -name '.terraform.lock.hcl' -delete
