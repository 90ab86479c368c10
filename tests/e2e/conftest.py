"""A sandbox of the suite's own (state dir and ports apart from a developer's), and az bound to its clouds.

Every assertion goes through what a user has: the real az with the extension installed from the wheel, the env
files the sandbox writes, skopeo against the registries' backends, and the sandbox's command line.
"""
import hashlib
import json
import os
import shlex
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from spec_schema import definitions_if_present, response_log_size, spec_check_of_response_log

REPO_ROOT = Path(__file__).resolve().parents[2]
E2E_PORT_BASE = int(os.environ.get("ACRSANDBOX_E2E_PORT_BASE", "28300"))
# The run lifecycle the suite's sandbox serves (ACRSANDBOX_RUN_SHAPE, see acrtransfer_sandbox/rules/run_shapes.py):
# `make test-e2e` runs the tests marked run_lifecycle once more with `spec`.
RUN_SHAPE = os.environ.get("ACRSANDBOX_RUN_SHAPE", "").strip() or "default"
# What a failed run's provisioningState says: in the spec's lifecycle only response.status tells the failure.
FAILED_RUN_PROVISIONING_STATE = "Succeeded" if RUN_SHAPE == "spec" else "Failed"
TRIGGER_INTERVAL_SECONDS = 1.0
AZ = str(Path(sys.executable).parent / "az")
SAMPLE_REPOSITORY = "hello-world"


SECRET_ARGUMENTS = {"--connection-string", "--password", "--body", "--source-uri"}


def shown_command(argv) -> str:
    """The command for a failure message, with the values of secret-bearing arguments hidden."""
    return " ".join("***" if index and argv[index - 1] in SECRET_ARGUMENTS else arg for index, arg in enumerate(argv))


class AzError(Exception):
    def __init__(self, argv, result):
        super().__init__(f"az {shown_command(argv)} exited {result.returncode}: {result.stderr.strip()[-2000:]}")
        self.result = result
        self.stderr = result.stderr


class Cloud:
    """One cloud of the sandbox as a user sees it after `source .sandbox/<cloud>.env`."""

    def __init__(self, name: str, env_file: Path):
        self.name = name
        self.env = parse_env_file(env_file)

    def __getitem__(self, variable: str) -> str:
        return self.env[variable]

    @property
    def group(self) -> str:
        return self.env["ACRSANDBOX_RESOURCE_GROUP"]

    @property
    def registry(self) -> str:
        return self.env["ACRSANDBOX_REGISTRY"]

    def az(self, *args: str, check: bool = True):
        """Run az in this cloud; the parsed JSON output (None when empty). AzError when it fails and check is set."""
        result = self.az_result(*args)
        if check and result.returncode != 0:
            raise AzError(args, result)
        return json.loads(result.stdout) if result.stdout.strip() else None

    def az_result(self, *args: str, only_show_errors: bool = True, output: str = "json") -> subprocess.CompletedProcess:
        env = {**os.environ, **self.env, "AZURE_CORE_ONLY_SHOW_ERRORS": str(only_show_errors).lower()}
        return subprocess.run([AZ, *args, "--output", output], env=env, capture_output=True, text=True,
                              timeout=300, check=False, cwd=self.az_cwd)

    @property
    def az_cwd(self) -> str:
        """Where az runs: not the checkout. az is `python -m azure.cli`, which puts its working directory first on
        sys.path, so from the checkout it would import ./azext_acrtransfer instead of the extension installed from
        the wheel (installed extensions are appended to sys.path)."""
        return self.env["ACRSANDBOX_HOME"]

    def acr(self, *args: str, check: bool = True):
        """`az acr <group> <command> -g <rg> -r <registry> ...`"""
        return self.az("acr", *args[:2], "--resource-group", self.group, "--registry", self.registry, *args[2:],
                       check=check)

    def manifest_digest(self, reference: str) -> str:
        """The exact digest of a manifest or index in this cloud's registry (skopeo against its backend)."""
        raw = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false",
                              f"docker://{self.env['ACRSANDBOX_REGISTRY_BACKEND']}/{reference}"],
                             capture_output=True, check=True, timeout=60).stdout
        return "sha256:" + hashlib.sha256(raw).hexdigest()

    def has_manifest(self, reference: str) -> bool:
        return subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false",
                               f"docker://{self.env['ACRSANDBOX_REGISTRY_BACKEND']}/{reference}"],
                              capture_output=True, check=False, timeout=60).returncode == 0

    def blob(self, name: str, check: bool = True):
        return self.az("storage", "blob", "show", "--connection-string",
                       self.env["ACRSANDBOX_STORAGE_CONNECTION_STRING"], "--container-name",
                       self.env["ACRSANDBOX_STORAGE_CONTAINER"], "--name", name, check=check)

    def blob_exists(self, name: str) -> bool:
        return self.az("storage", "blob", "exists", "--connection-string",
                       self.env["ACRSANDBOX_STORAGE_CONNECTION_STRING"], "--container-name",
                       self.env["ACRSANDBOX_STORAGE_CONTAINER"], "--name", name)["exists"]

    def grant_secret_get(self, principal: str) -> None:
        self.az("keyvault", "set-policy", "--name", self.env["ACRSANDBOX_KEYVAULT"], "--secret-permissions", "get",
                "--object-id", principal)

    def assign_storage_role(self, principal: str, role: str) -> None:
        self.az("role", "assignment", "create", "--assignee-object-id", principal, "--assignee-principal-type",
                "ServicePrincipal", "--role", role, "--scope", self.env["ACRSANDBOX_STORAGE_ACCOUNT_ID"])

    def put_secret(self, name: str, value: str) -> str:
        """Store a secret in this cloud's Key Vault (data plane, as `az rest` sends it); returns its URI."""
        uri = f"{self.env['ACRSANDBOX_KEYVAULT_URI']}secrets/{name}"
        self.az("rest", "--method", "put", "--url", f"{uri}?api-version=7.4", "--resource",
                "https://vault.acrsandbox.local", "--body", json.dumps({"value": value}))
        return uri


def parse_env_file(path: Path) -> dict:
    env = {}
    for line in path.read_text().splitlines():
        if line.startswith("export ") and not line.startswith("export PATH="):
            name, _, value = line[len("export "):].partition("=")
            env[name] = shlex.split(value)[0] if value else ""
    return env


def unique(prefix: str) -> str:
    """A resource name (5-50 alphanumerics) no other test uses."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def wait_for(predicate, timeout: float, interval: float = 1.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Sandbox:
    def __init__(self, home: Path, wheel: Path):
        self.home = home
        self.wheel = wheel
        self.source = self.target = None
        self.response_log = home / "responses.jsonl"
        self.env = {**os.environ, "ACRSANDBOX_HOME": str(home), "ACRSANDBOX_PORT_BASE": str(E2E_PORT_BASE),
                    "ACRSANDBOX_TRIGGER_INTERVAL": str(TRIGGER_INTERVAL_SECONDS),
                    "ACRSANDBOX_RESPONSE_LOG": str(self.response_log), "ACRSANDBOX_RUN_SHAPE": RUN_SHAPE}

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "acrtransfer_sandbox", *args], cwd=REPO_ROOT, env=self.env,
                              capture_output=True, text=True, timeout=180, check=True)

    def up(self) -> None:
        self.cli("up", "--wheel", str(self.wheel))
        self.source = Cloud("source", self.home / "source.env")
        self.target = Cloud("target", self.home / "target.env")

    def down(self) -> None:
        self.cli("down")

    def trigger_scans(self) -> int:
        """How many polls the source trigger has finished (it writes the count after each one)."""
        path = self.home / "state" / "trigger-scans"
        text = path.read_text().strip() if path.exists() else ""
        return int(text) if text else 0

    def wait_for_full_trigger_scans(self, timeout: float = 120) -> None:
        """Until the trigger has run one whole poll that began after this call: the poll in flight may have listed
        the containers before the caller's blob or pipeline existed, so the count has to move twice."""
        start = self.trigger_scans()
        wait_for(lambda: self.trigger_scans() >= start + 2, timeout, interval=0.2,
                 what="two source trigger polls")


def _wheel() -> Path:
    given = os.environ.get("ACRSANDBOX_WHEEL")
    if given:
        return Path(given)
    wheels = sorted((REPO_ROOT / "dist").glob("acrtransfer-*-py3-none-any.whl"), key=lambda p: p.stat().st_mtime)
    if not wheels:
        pytest.fail("no extension wheel in dist/: run `make wheel` (make test-e2e does) or set ACRSANDBOX_WHEEL")
    return wheels[-1]


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    instance = Sandbox(tmp_path_factory.mktemp("sandbox"), _wheel())
    try:
        instance.up()
        yield instance
    finally:
        instance.down()


@pytest.fixture(scope="session")
def spec_definitions():
    return definitions_if_present()


@pytest.fixture(autouse=True)
def responses_follow_the_spec(request, spec_definitions):
    """Every pipeline and run body the sandbox served during the test uses only the spec's property names (without
    ../shared/spec the check does nothing and the suite's summary counts it)."""
    if "sandbox" not in request.fixturenames:
        yield
        return
    log = request.getfixturevalue("sandbox").response_log
    start = response_log_size(log)
    yield
    assert spec_check_of_response_log(spec_definitions, str(log), start) == []


@pytest.fixture(scope="session")
def source(sandbox):
    return sandbox.source


@pytest.fixture(scope="session")
def target(sandbox):
    return sandbox.target


@pytest.fixture(scope="session")
def sample_digests(source):
    return {reference: source.manifest_digest(f"{SAMPLE_REPOSITORY}:{reference}")
            for reference in ("latest", "v2", "multiarch")}
