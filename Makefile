# Entry points: `make test` (the whole suite), `make demo` (the workflow on the sandbox).
PYTHON ?= python3
VENV ?= .venv
AZURE_CLI_VERSION ?= 2.91.0

include acrtransfer_sandbox/sandbox.mk
