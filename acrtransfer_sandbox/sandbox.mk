# The sandbox: two offline clouds for the real az (see "The sandbox" in README.md). Included by the top-level Makefile.
# sandbox-up / sandbox-down / demo / test-e2e install what they need first (npm, apt, the venv, the wheel).
AZURITE_VERSION ?= 3.35.0
AZURITE := .tools/node_modules/.bin/azurite-blob
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SANDBOX := $(VENV)/bin/python -m acrtransfer_sandbox

.PHONY: sandbox-tools sandbox-up sandbox-down sandbox-status demo test-e2e

# Azurite from npm (pinned), CNCF distribution, skopeo and strace (the file-mode test) from Debian: installed once,
# when missing.
SANDBOX_APT_PACKAGES = docker-registry skopeo strace
sandbox-tools: sandbox-apt-tools $(AZURITE)

.PHONY: sandbox-apt-tools
sandbox-apt-tools:
	@missing=""; for tool in $(SANDBOX_APT_PACKAGES) npm; do command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing with apt:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; fi

$(AZURITE): | sandbox-apt-tools
	npm install --prefix .tools --no-audit --no-fund --loglevel=error azurite@$(AZURITE_VERSION)

# Starts everything in the background (idempotent), writes .sandbox/source.env and .sandbox/target.env.
sandbox-up: venv wheel sandbox-tools
	$(SANDBOX) up --wheel $(WHEEL)

# Stops every process of the sandbox by its recorded PID (idempotent); state stays in .sandbox/.
sandbox-down:
	@if [ -x $(VENV)/bin/python ]; then $(SANDBOX) down; else echo "sandbox down: no virtualenv, nothing to stop"; fi

sandbox-status:
	$(SANDBOX) status

# The ACR Transfer workflow end to end with the real az and the extension from the wheel; always stops the sandbox.
demo: sandbox-up
	@status=0; PATH="$(CURDIR)/$(VENV)/bin:$$PATH" ACRTRANSFER_WHEEL="$(CURDIR)/$(WHEEL)" \
		bash acrtransfer_sandbox/demo.sh || status=$$?; \
		$(MAKE) --no-print-directory sandbox-down; exit $$status

# End-to-end tests: their own sandbox (state dir and ports of their own), brought up and down by the suite. The
# tests marked run_lifecycle run a second time against a sandbox serving the spec's run lifecycle
# (ACRSANDBOX_RUN_SHAPE=spec); both sessions run even when the first fails, and the target fails if either did.
test-e2e: venv wheel sandbox-tools
	@status=0; \
	ACRTRANSFER_SUITE=e2e ACRSANDBOX_RUN_SHAPE=default $(VENV)/bin/python -m pytest tests/e2e -v || status=$$?; \
	ACRTRANSFER_SUITE=e2e-spec-lifecycle ACRSANDBOX_RUN_SHAPE=spec \
		$(VENV)/bin/python -m pytest tests/e2e -m run_lifecycle -v || status=$$?; \
	exit $$status
