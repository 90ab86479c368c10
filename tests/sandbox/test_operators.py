"""`add-operator`: a second service principal signs in to the running cloud with its own identity, and the role it
was given on the subscription is what ARM's permissions API answers for it."""
import json
import subprocess
import sys

import pytest
import requests

from acrtransfer_sandbox.plumbing import operators
from acrtransfer_sandbox.plumbing.certs import ensure_certificates
from acrtransfer_sandbox.plumbing.config import ARM_AUDIENCE, SandboxConfig
from acrtransfer_sandbox.runtime.operators import add_operator
from running_sandbox import RunningSandbox
from servers import REPO_ROOT

PERMISSIONS = "/providers/Microsoft.Authorization/permissions?api-version=2022-04-01"


@pytest.fixture(scope="module")
def sandbox():
    running = RunningSandbox().start()
    yield running
    running.stop()


def _sign_in(sandbox, cloud, app_id, password):
    return requests.post(f"{cloud.front_url}/{cloud.tenant_id}/oauth2/v2.0/token", verify=sandbox.ca, timeout=30,
                         data={"grant_type": "client_credentials", "client_id": app_id, "client_secret": password,
                               "scope": ARM_AUDIENCE + ".default"})


def _permissions(sandbox, cloud, token, scope):
    status, body = sandbox.arm(cloud, "GET", scope + PERMISSIONS, token=token)
    assert status == 200, body
    return [action for entry in body["value"] for action in entry["actions"]]


def test_an_added_reader_signs_in_as_itself_and_may_only_read(sandbox):
    cloud = sandbox.source
    answer = add_operator(sandbox.config, cloud, "auditor", "Reader")
    assert set(answer) == {"appId", "password", "tenant"} and answer["tenant"] == cloud.tenant_id
    response = _sign_in(sandbox, cloud, answer["appId"], answer["password"])
    assert response.status_code == 200
    token = response.json()["access_token"]
    assert _permissions(sandbox, cloud, token, cloud.registry_id) == ["*/read"]
    assert _permissions(sandbox, cloud, sandbox.token(cloud), cloud.registry_id) == ["*"]   # the operator: Owner
    entry = operators.load(operators.operators_path(sandbox.home))["source"][0]
    assert answer["password"] not in json.dumps(entry)                                      # only its digest


def test_an_added_principal_with_a_wrong_password_or_in_the_other_cloud_is_refused(sandbox):
    answer = add_operator(sandbox.config, sandbox.source, "runner1", "Container Registry Transfer Pipeline Contributor")
    assert _sign_in(sandbox, sandbox.source, answer["appId"], answer["password"] + "x").status_code == 401
    assert _sign_in(sandbox, sandbox.target, answer["appId"], answer["password"]).status_code == 400
    token = _sign_in(sandbox, sandbox.source, answer["appId"], answer["password"]).json()["access_token"]
    assert "Microsoft.ContainerRegistry/registries/pipelineRuns/*" in _permissions(sandbox, sandbox.source, token,
                                                                                   sandbox.source.registry_id)


def test_the_command_line_prints_the_login_and_refuses_an_unknown_role(sandbox):
    env = {"ACRSANDBOX_HOME": str(sandbox.home), "ACRSANDBOX_PORT_BASE": str(sandbox.config.port_base),
           "PYTHONPATH": str(REPO_ROOT)}
    command = [sys.executable, "-m", "acrtransfer_sandbox", "add-operator", "--cloud", "source", "--name", "cli1"]
    done = subprocess.run(command + ["--role", "Reader"], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert _sign_in(sandbox, sandbox.source, printed["appId"], printed["password"]).status_code == 200
    refused = subprocess.run(command + ["--role", "Janitor"], env=env, capture_output=True, text=True, check=False)
    assert refused.returncode == 1 and "unknown role 'Janitor'" in refused.stderr


def test_add_operator_needs_a_running_sandbox(tmp_path):
    config = SandboxConfig(home=tmp_path, port_base=31000, trigger_interval=1.0)
    ensure_certificates(tmp_path / "tls")
    with pytest.raises(RuntimeError, match="does not answer"):
        add_operator(config, config.source, "nobody", "Reader")
    assert operators.load(operators.operators_path(tmp_path)) == {}
