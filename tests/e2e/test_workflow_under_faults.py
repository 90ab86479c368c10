"""The demo workflow (acrtransfer_sandbox/demo.sh) through a sandbox whose ARM fronts fail 20 % of requests.

The faults are the sandbox's (ACRSANDBOX_FAULT_RATE, see acrtransfer_sandbox/fronts/faults.py): 429 with Retry-After,
500, 503, connection resets before and after the request took effect, slow answers, from a fixed seed. The
workflow must complete with identical digests, leave exactly the runs it started (each executed once: a
retried PUT must not start a run again), and print no traceback and no secret.

The sandbox is this module's own (ports from ACRSANDBOX_E2E_PORT_BASE + 50): the session's is fault-free.
"""
import collections
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import E2E_PORT_BASE, REPO_ROOT, Sandbox, _wheel

FAULT_RATE = "0.2"
FAULT_SEED = os.environ.get("ACRSANDBOX_FAULT_SEED", "9")
PORT_OFFSET = 50
DEMO_TIMEOUT_SECONDS = 900
FAULT_LINE = re.compile(r"fault injected: (\S+) (\S+) (\S+) (\S+)")
RUN_EXECUTED = re.compile(r"run (\S+/pipelineruns/\S+) (?:succeeded|failed)", re.IGNORECASE)


@pytest.fixture(scope="module")
def faulty_sandbox(tmp_path_factory):
    instance = Sandbox(tmp_path_factory.mktemp("faulty-sandbox"), _wheel())
    instance.env["ACRSANDBOX_PORT_BASE"] = str(E2E_PORT_BASE + PORT_OFFSET)
    try:
        instance.up()  # first start: cloud registration, login and extension install, without faults
        instance.down()
        instance.env.update(ACRSANDBOX_FAULT_RATE=FAULT_RATE, ACRSANDBOX_FAULT_SEED=FAULT_SEED,
                            ACRSANDBOX_FAULT_FRONTS="arm")
        instance.up()
        yield instance
    finally:
        instance.down()


def _secrets(sandbox: Sandbox) -> list:
    """The storage account keys, client secrets and token signing key of the sandbox, and the SAS signatures its
    vaults hold."""
    credentials = json.loads((sandbox.home / "credentials.json").read_text())
    values = [*credentials["storage_keys"].values(), *credentials["client_secrets"].values(),
              credentials["token_signing_key"]]
    state = (sandbox.home / "state" / "resources.json").read_text()
    values += re.findall(r"sig=([^&\"\\]+)", state)
    return [value for value in values if len(value) >= 16]


def _log_lines(sandbox: Sandbox) -> list:
    return (sandbox.home / "logs" / "cloud-front.log").read_text().splitlines()


def test_the_demo_workflow_completes_under_arm_faults(faulty_sandbox):
    lines_before = len(_log_lines(faulty_sandbox))
    env = {**faulty_sandbox.env, "PATH": "{}:{}".format(Path(sys.executable).parent, os.environ["PATH"]),
           "TRIGGER_TIMEOUT_SECONDS": "300"}
    result = subprocess.run(["bash", str(REPO_ROOT / "acrtransfer_sandbox" / "demo.sh")], env=env, cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=DEMO_TIMEOUT_SECONDS, check=False)
    output = result.stdout + result.stderr
    log = _log_lines(faulty_sandbox)[lines_before:]

    injected = [match for match in map(FAULT_LINE.search, log) if match]
    faults = collections.Counter(match.group(1) for match in injected)
    requests = sum(1 for line in log if "acrtransfer_sandbox.http:" in line) + sum(faults.values())
    print("faults injected on ARM: {} of about {} requests ({}); survived: {}".format(
        sum(faults.values()), requests, ", ".join("{} {}".format(n, k) for k, n in sorted(faults.items())),
        sum(faults.values()) if result.returncode == 0 else "the workflow failed"))
    for match in injected:
        print("  {} on {} .../{}".format(match.group(1), match.group(3), "/".join(match.group(4).split("/")[-2:])))

    assert result.returncode == 0, output[-4000:]
    assert sum(faults.values()) >= 5, "too few faults to mean anything: {}".format(faults)
    assert "Traceback" not in output
    leaked = [secret[:6] + "..." for secret in _secrets(faulty_sandbox) if secret in output]
    assert not leaked, "secrets in the demo's output: {}".format(leaked)
    assert "DEMO PASSED" in output and "DIFFERENT" not in output and output.count(" equal") >= 3  # digests

    source, target = faulty_sandbox.source, faulty_sandbox.target
    source_runs = source.acr("pipeline-run", "list")
    target_runs = target.acr("pipeline-run", "list")
    assert len(source_runs) == 1 and source_runs[0]["name"].startswith("exportrun")
    assert sorted("_" in run["name"] for run in target_runs) == [False, True]  # the manual and the triggered import
    assert all(run["provisioningState"] == "Succeeded" for run in source_runs + target_runs)
    executions = collections.Counter(match.group(1).lower() for match in map(RUN_EXECUTED.search, log) if match)
    assert sorted(executions.values()) == [1, 1, 1], executions  # no run was started twice by a retried PUT
