# Entry points: `make test` runs the whole suite, `make demo` runs the ACR Transfer workflow on the sandbox.
# Every target installs what it needs itself, so a fresh machine only needs python3, node/npm and apt.
PYTHON ?= python3
VENV ?= .venv
AZURE_CLI_VERSION ?= 2.91.0
PIP_QUIET = --quiet --disable-pip-version-check

VERSION := $(shell sed -n 's/^VERSION = "\(.*\)"/\1/p' setup.py)
WHEEL := dist/acrtransfer-$(VERSION)-py3-none-any.whl

.PHONY: venv wheel test lint test-extension test-sandbox test-oldest test-summary-reset

# The extension's suites; they run az in-process, so they get a pytest process of their own.
EXTENSION_TESTS := tests/unit tests/conformance tests/scenario tests/packaging
OLDEST_CLI_VERSION ?= 2.44.0
OLDEST_VENV ?= .venv-oldest

# The whole suite (the README's test command): lint, the extension on the newest and the oldest supported
# azure-cli, the sandbox's own tests and the end-to-end workflow through the real az against the sandbox.
# It ends with each suite's counts and the reason for every skip (tests/suite_summary.py).
test: test-summary-reset lint test-extension test-sandbox test-e2e test-oldest
	@$(VENV)/bin/python tests/suite_summary.py

# Each pytest run the Makefile starts names its suite; the summary files of an earlier `make test` go first.
test-summary-reset:
	rm -rf .test-summary

lint: venv
	$(VENV)/bin/flake8 azext_acrtransfer acrtransfer_sandbox tests benchmarks
	$(VENV)/bin/pylint azext_acrtransfer acrtransfer_sandbox

test-extension: venv
	ACRTRANSFER_SUITE=extension-$(AZURE_CLI_VERSION) $(VENV)/bin/python -m pytest $(EXTENSION_TESTS)

test-sandbox: venv sandbox-tools
	ACRTRANSFER_SUITE=sandbox $(VENV)/bin/python -m pytest tests/sandbox

# The extension's suites on the oldest azure-cli it declares (azext.minCliCoreVersion).
test-oldest:
	$(MAKE) --no-print-directory venv VENV=$(OLDEST_VENV) AZURE_CLI_VERSION=$(OLDEST_CLI_VERSION)
	ACRTRANSFER_SUITE=extension-$(OLDEST_CLI_VERSION) $(OLDEST_VENV)/bin/python -m pytest $(EXTENSION_TESTS)

# The project virtualenv: azure-cli at AZURE_CLI_VERSION, test tools and the sandbox's dependencies. The stamp is
# written only after pip and az both succeeded: a failed install fails this target and the next run retries it.
venv: $(VENV)/.installed-$(AZURE_CLI_VERSION)
$(VENV)/.installed-$(AZURE_CLI_VERSION): requirements-dev.txt acrtransfer_sandbox/requirements.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	rm -f $(VENV)/.installed-*
	$(VENV)/bin/pip install $(PIP_QUIET) "azure-cli==$(AZURE_CLI_VERSION)" \
		-r requirements-dev.txt -r acrtransfer_sandbox/requirements.txt > $(VENV)/pip-install.log 2>&1 \
		|| { cat $(VENV)/pip-install.log; echo "pip install failed (log: $(VENV)/pip-install.log)"; exit 1; }
	@# Mirror-index notices ("WARNING: Location ... is ignored") are noise on success; the full log stays beside.
	@grep -v "^WARNING: Location" $(VENV)/pip-install.log || true
	$(VENV)/bin/az version --output none
	touch $@

# The extension wheel, as users install it with `az extension add --source <wheel>`.
wheel: $(WHEEL)
$(WHEEL): $(VENV)/.installed-$(AZURE_CLI_VERSION) setup.py setup.cfg README.md HISTORY.rst $(shell find azext_acrtransfer -name '*.py' -o -name '*.json')
	rm -rf build dist/acrtransfer-*.whl
	$(VENV)/bin/python -m build --wheel --no-isolation --outdir dist . > /dev/null

include acrtransfer_sandbox/sandbox.mk
