#!/usr/bin/env bash
# Re-record the scenario cassettes against the sandbox (make sandbox-up first):
#   bash tests/scenario/record.sh [pytest args]
# Requests go to the source cloud's ARM endpoint with a real token; the cassettes are scrubbed to look like
# public Azure (management.azure.com, subscription 00000000-...), with no token in them.
set -euo pipefail
cd "$(dirname "$0")/../.."
source .sandbox/source.env
export ACRTRANSFER_RECORD=1
export ACRTRANSFER_SANDBOX_AZURE_CONFIG_DIR="$AZURE_CONFIG_DIR"
ACRTRANSFER_RECORD_TOKEN=$(az account get-access-token --query accessToken --output tsv)
export ACRTRANSFER_RECORD_TOKEN
exec .venv/bin/python -m pytest tests/scenario "$@"
