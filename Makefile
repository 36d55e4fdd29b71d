# Two entry points, both self-installing on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow unit integration test-pipelines verify-aws lint schema image clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/rightsize run events/local-demo.json

# Lint (style, format, one-way imports, types), then every test but the slow ones (~6 min on 2 cores).
test: lint
	$(BIN)/pytest -m "not slow"

# The integration tests that each repeat a whole local run to check one feature in depth (~4 min); CI runs them too.
test-slow: $(STAMP)
	$(BIN)/pytest -m slow

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

# The tests by speed; `make test` runs both. unit: no server, no real load (~25 s on 2 cores).
unit: $(STAMP)
	$(BIN)/pytest tests/unit tests/aws

# Real servers and load tests on 127.0.0.1, the model-server contract, the report in Chromium, slow ones too (~8 min).
integration: $(STAMP)
	$(BIN)/pytest tests/integration tests/contract tests/browser

# Heavier offline checks of the AWS stack (see docs/aws-stack.md, "Offline verification"), each tool in its own environment
# under .tools/ because they pin libraries the project also uses. cfn-lint and statelint run in `make test`.
TOOLS := .tools
# `sam build` packages the python3.12 Lambda runtime without Docker, so it needs a python3.12 on PATH.
PYTHON312 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12) $(shell command -v python3.12))

$(TOOLS)/checkov/.installed:
	$(PYTHON) -m venv $(TOOLS)/checkov
	$(TOOLS)/checkov/bin/pip install --quiet --disable-pip-version-check "checkov>=3.2,<4"
	touch $@

$(TOOLS)/sam/.installed:
	$(PYTHON) -m venv $(TOOLS)/sam
	$(TOOLS)/sam/bin/pip install --quiet --disable-pip-version-check "aws-sam-cli>=1.120,<2"
	touch $@

$(TOOLS)/npm/.installed:
	npm install --silent --no-audit --no-fund --prefix $(TOOLS)/npm asl-validator@4.0.0
	touch $@

$(TOOLS)/py312/python3.12:
	@test -n "$(PYTHON312)" || { echo "sam build needs python3.12 (set PYTHON312=/path/to/python3.12)"; exit 1; }
	mkdir -p $(TOOLS)/py312 && ln -sf "$(PYTHON312)" $@

# The SageMaker Pipelines example needs the sagemaker SDK, whose pins conflict with [dev]'s: its own environment.
$(TOOLS)/pipelines/.installed: pyproject.toml
	$(PYTHON) -m venv $(TOOLS)/pipelines
	$(TOOLS)/pipelines/bin/pip install --quiet --disable-pip-version-check -e ".[pipelines]" "pytest>=8"
	touch $@

test-pipelines: $(TOOLS)/pipelines/.installed
	$(TOOLS)/pipelines/bin/pytest -p no:cacheprovider tests/unit/test_pipeline_example.py

verify-aws: $(TOOLS)/checkov/.installed $(TOOLS)/sam/.installed $(TOOLS)/npm/.installed $(TOOLS)/py312/python3.12
	$(TOOLS)/checkov/bin/checkov -f template.yaml --framework cloudformation --skip-download --compact --quiet
	for f in statemachine/*.asl.json; do $(TOOLS)/npm/node_modules/.bin/asl-validator --json-path $$f || exit 1; done
	SAM_CLI_TELEMETRY=0 $(TOOLS)/sam/bin/sam validate --lint --region us-east-1
	PATH="$(CURDIR)/$(TOOLS)/py312:$$PATH" SAM_CLI_TELEMETRY=0 $(TOOLS)/sam/bin/sam build --region us-east-1

# Step 1 of deploying: build the load-test image for the stack's LoadTestCpuArchitecture, push it to ECR (the
# repository is created if missing) and print the `sam deploy` line that uses it. Needs Docker with buildx.
# make image IMAGE_ARCH=ARM64 IMAGE_TAG=v1 AWS_PROFILE=dev AWS_REGION=eu-west-1  (all optional)
IMAGE_ARCH ?= X86_64
image: $(STAMP)
	$(BIN)/rightsize image push --arch $(IMAGE_ARCH) $(if $(IMAGE_TAG),--tag $(IMAGE_TAG))

schema: $(STAMP)
	$(BIN)/rightsize schema --write

clean:
	rm -rf $(VENV) $(TOOLS) .aws-sam rightsizing-runs .pytest_cache .ruff_cache
