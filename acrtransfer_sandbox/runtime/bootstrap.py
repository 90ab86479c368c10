"""`up` and `down`: start Azurite, the two registries and the cloud process in the background, seed them, log az
in to each cloud in a private AZURE_CONFIG_DIR and write the env files. Everything is idempotent: a second `up`
finds the processes by PID and the az configurations by a marker, and only rewrites the env files.
"""
import asyncio
import concurrent.futures
import hashlib
import json
import os
import shlex
import shutil
import ssl
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Optional

import aiohttp

from . import processes
from ..plumbing.certs import ensure_certificates
from ..plumbing.config import REPO_ROOT, STORAGE_CONTAINER, CloudConfig, SandboxConfig, referrers_api_enabled
from ..plumbing.credentials import SandboxCredentials, write_private_file
from ..rules.sas import account_sas
from .server import load_credentials
from .storage_service import AZURITE_PROCESS, azurite_process
from ..transfer import RegistryClient, RegistryError, push_large_image, push_referrer, push_sample_images, \
    push_small_images, push_special_image

START_TIMEOUT_SECONDS = 30
SERVER_PROCESS = "cloud-front"
SAMPLE_REPOSITORY = "hello-world"


def registry_process_name(cloud: CloudConfig) -> str:
    return f"registry-{cloud.name}"


def process_names(config: SandboxConfig) -> list:
    return [SERVER_PROCESS, AZURITE_PROCESS] + [registry_process_name(c) for c in config.clouds]


# docker-registry refuses a manifest with a foreign layer unless its URLs are allowed (as ACR takes them).
FOREIGN_LAYERS_ALLOWED = "validation:\n  manifests:\n    urls:\n      allow:\n        - ^https?://\n"


def registry_process(config: SandboxConfig, cloud: CloudConfig) -> processes.ManagedProcess:
    if not shutil.which("docker-registry"):
        raise RuntimeError("docker-registry is not installed: run `make sandbox-up` (it installs it with apt).")
    root = config.registry_storage(cloud)
    root.mkdir(parents=True, exist_ok=True)
    config_file = config.home / "registries" / f"{cloud.name}.yml"
    config_file.write_text(
        "version: 0.1\nlog:\n  level: warn\n  formatter: text\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {root}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{cloud.registry_upstream_port}\n" + FOREIGN_LAYERS_ALLOWED)
    return processes.ManagedProcess(registry_process_name(cloud), ["docker-registry", "serve", str(config_file)],
                                    marker=str(config_file))


def server_process(config: SandboxConfig) -> processes.ManagedProcess:
    return processes.ManagedProcess(SERVER_PROCESS, [sys.executable, "-m", "acrtransfer_sandbox", "serve"],
                                    marker="acrtransfer_sandbox serve", cwd=REPO_ROOT,
                                    env=_sandbox_environment(config))


def _sandbox_environment(config: SandboxConfig) -> dict:
    env = {"ACRSANDBOX_HOME": str(config.home), "ACRSANDBOX_PORT_BASE": str(config.port_base),
           "ACRSANDBOX_TRIGGER_INTERVAL": str(config.trigger_interval),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    if config.response_log:
        env["ACRSANDBOX_RESPONSE_LOG"] = str(config.response_log)
    return env


def up(config: SandboxConfig, wheel: Optional[Path]) -> None:
    credentials = load_credentials(config)
    tls = ensure_certificates(config.home / "tls")
    started = [
        (azurite_process(config, credentials, tls), config.storage_port),
        *[(registry_process(config, c), c.registry_upstream_port) for c in config.clouds],
        (server_process(config), config.source.front_port),
    ]
    pids = {}
    for process, port in started:
        if not processes.running_pid(config.pid_dir, process.name) and not processes.port_is_free(port):
            raise RuntimeError(f"port {port} for {process.name} is taken by another program; "
                               "choose other ports with ACRSANDBOX_PORT_BASE")
        pids[process.name] = processes.start(process, config.pid_dir, config.log_dir)
    for process, port in started:
        processes.wait_for_port(port, START_TIMEOUT_SECONDS, process.name, pids[process.name], config.log_dir)
    for cloud in config.clouds:
        for port in (cloud.vault_port, cloud.registry_front_port):
            processes.wait_for_port(port, START_TIMEOUT_SECONDS, SERVER_PROCESS, pids[SERVER_PROCESS], config.log_dir)
    asyncio.run(_seed_data(config, credentials))
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(config.clouds)) as pool:
        list(pool.map(lambda c: configure_az(config, credentials, c, wheel), config.clouds))
    for cloud in config.clouds:
        write_env_file(config, credentials, cloud)
    print(f"sandbox up: env files {config.env_file(config.source)} and {config.env_file(config.target)}")


def down(config: SandboxConfig) -> None:
    stopped = [name for name in process_names(config) if processes.stop(config.pid_dir, name)]
    print("sandbox down: stopped " + (", ".join(stopped) if stopped else "nothing (it was not running)"))


def status(config: SandboxConfig) -> dict:
    return {name: processes.running_pid(config.pid_dir, name) for name in process_names(config)}


async def _seed_data(config: SandboxConfig, credentials: SandboxCredentials) -> None:
    """The storage containers in Azurite and the sample images in the source registry, when missing."""
    context = ssl.create_default_context(cafile=str(config.ca_cert))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session:
        for cloud in config.clouds:
            sas = account_sas(cloud.storage_account, credentials.storage_keys[cloud.name])
            async with session.put(f"{cloud.container_uri}?restype=container&{sas}") as response:
                if response.status not in (201, 409):
                    raise RuntimeError(f"creating container {cloud.container_uri} failed: {response.status} "
                                       f"{await response.text()}")
        source = RegistryClient(session, config.source.registry_upstream_url)
        if "latest" not in await _tags(source, SAMPLE_REPOSITORY):
            await push_sample_images(source)


def push_large(cloud: CloudConfig, image: str, size_mb: int) -> str:
    """Push a generated multi-layer image of about `size_mb` MiB; returns its manifest digest."""
    repository, _, tag = image.partition(":")

    async def push() -> str:
        async with aiohttp.ClientSession() as session:
            return await push_large_image(RegistryClient(session, cloud.registry_upstream_url), repository,
                                          tag or "latest", size_mb * 1024 * 1024)
    return asyncio.run(push())


def push_small(cloud: CloudConfig, repository: str, count: int, tag_prefix: str, start: int) -> dict:
    """Push ``count`` small images of distinct digests; returns reference -> digest."""
    async def push() -> dict:
        async with aiohttp.ClientSession() as session:
            return await push_small_images(RegistryClient(session, cloud.registry_upstream_url), repository, count,
                                           tag_prefix, start)
    return asyncio.run(push())


def push_referrer_to(cloud: CloudConfig, subject: str, artifact_type: str, scheme: str) -> str:
    """Push a referrer of `subject` (see transfer.samples.push_referrer); returns it as repo@sha256:..."""
    async def push() -> str:
        async with aiohttp.ClientSession() as session:
            # Without the referrers API, the referrers tag schema is how a client attaches a referrer.
            return await push_referrer(RegistryClient(session, cloud.registry_upstream_url), subject, artifact_type,
                                       scheme, tag_schema=not referrers_api_enabled())
    try:
        return asyncio.run(push())
    except (ValueError, RegistryError) as error:
        raise RuntimeError(str(error)) from None
    except aiohttp.ClientError as error:
        raise RuntimeError(f"the {cloud.name} registry cannot be reached ({error}): is the sandbox up?") from None


def push_special(cloud: CloudConfig, image: str, foreign_layer: bool, declared_layer_gib: Optional[int]) -> str:
    """Push an image with a foreign layer, or whose layer is declared `declared_layer_gib` GiB; returns its digest."""
    repository, _, tag = image.partition(":")
    if declared_layer_gib is not None and declared_layer_gib < 1:
        raise RuntimeError("--declared-layer-gib must be 1 or more")

    async def push() -> str:
        async with aiohttp.ClientSession() as session:
            return await push_special_image(RegistryClient(session, cloud.registry_upstream_url), repository,
                                            tag or "latest", foreign_layer, declared_layer_gib or 0)
    return asyncio.run(push())


async def _tags(registry: RegistryClient, repository: str) -> list:
    try:
        return await registry.list_tags(repository)
    except Exception:  # pylint: disable=broad-except
        # The repository does not exist yet (NAME_UNKNOWN): no tags.
        return []


# az configuration per cloud
def az_environment(config: SandboxConfig, cloud: CloudConfig) -> dict:
    return {"AZURE_CONFIG_DIR": str(config.azure_config_dir(cloud)), "REQUESTS_CA_BUNDLE": str(config.ca_cert),
            "AZURE_CORE_COLLECT_TELEMETRY": "false"}


def az_executable() -> str:
    local = Path(sys.executable).parent / "az"
    return str(local) if local.exists() else "az"


def run_az(config: SandboxConfig, cloud: CloudConfig, *args: str, secret: Optional[str] = None) -> str:
    env = {**os.environ, **az_environment(config, cloud), "AZURE_CORE_ONLY_SHOW_ERRORS": "true"}
    # Not from the checkout: `python -m azure.cli` would import ./azext_acrtransfer before the installed extension.
    result = subprocess.run([az_executable(), *args], env=env, capture_output=True, text=True, check=False,
                            cwd=config.home)
    if result.returncode != 0:
        shown = " ".join(a.replace(secret, "***") if secret else a for a in args)
        error = result.stderr.replace(secret, "***") if secret else result.stderr
        raise RuntimeError(f"az {shown} failed ({result.returncode}): {error.strip()}")
    return result.stdout


def _az_marker(config: SandboxConfig, cloud: CloudConfig) -> dict:
    return {"front": cloud.front_url, "tenant": cloud.tenant_id, "ca": config.ca_cert.read_text()[-80:]}


def configure_az(config: SandboxConfig, credentials: SandboxCredentials, cloud: CloudConfig,
                 wheel: Optional[Path]) -> None:
    """Register the cloud, log in as the operator service principal and install the extension, once."""
    config_dir = config.azure_config_dir(cloud)
    marker_file = config_dir / "acrsandbox-marker.json"
    marker = _az_marker(config, cloud)
    if not marker_file.exists() or json.loads(marker_file.read_text()) != marker:
        shutil.rmtree(config_dir, ignore_errors=True)
        config_dir.mkdir(parents=True)
        run_az(config, cloud, "config", "set", "core.instance_discovery=false", "core.collect_telemetry=false")
        run_az(config, cloud, "cloud", "register", "--name", cloud.cloud_name,
               "--endpoint-resource-manager", cloud.front_url)
        run_az(config, cloud, "cloud", "set", "--name", cloud.cloud_name)
        secret = credentials.client_secrets[cloud.name]
        # `--password=<secret>`: a URL-safe secret can start with '-', which az would take for an option.
        run_az(config, cloud, "login", "--service-principal", "--username", cloud.client_id, f"--password={secret}",
               "--tenant", cloud.tenant_id, "--output", "none", secret=secret)
        marker_file.write_text(json.dumps(marker))
    if wheel:
        install_extension(config, cloud, wheel)


def install_extension(config: SandboxConfig, cloud: CloudConfig, wheel: Path) -> None:
    """`az extension add --source <wheel>`, again only when the wheel's content changed since the last install."""
    stamp_file = config.azure_config_dir(cloud) / "acrsandbox-wheel.json"
    stamp = {"wheel": str(wheel.resolve()), "content": wheel_content_digest(wheel)}
    if stamp_file.exists() and json.loads(stamp_file.read_text()) == stamp:
        return
    if _extension_installed(config, cloud):
        run_az(config, cloud, "extension", "remove", "--name", "acrtransfer")
    run_az(config, cloud, "extension", "add", "--source", str(wheel.resolve()), "--yes")
    stamp_file.write_text(json.dumps(stamp))


def wheel_content_digest(wheel: Path) -> str:
    """A digest of the files inside the wheel, not of the zip: a rebuild of the same sources (new zip timestamps)
    keeps it, so `make sandbox-up` does not reinstall the extension after every `make wheel`."""
    digest = hashlib.sha256()
    with zipfile.ZipFile(wheel) as archive:
        for name in sorted(archive.namelist()):
            digest.update(name.encode() + b"\0" + hashlib.sha256(archive.read(name)).digest())
    return digest.hexdigest()


def _extension_installed(config: SandboxConfig, cloud: CloudConfig) -> bool:
    return (config.azure_config_dir(cloud) / "cliextensions" / "acrtransfer").exists()


def connection_string(cloud: CloudConfig, key: str) -> str:
    return (f"DefaultEndpointsProtocol=https;AccountName={cloud.storage_account};AccountKey={key};"
            f"BlobEndpoint={cloud.blob_endpoint};")


def env_variables(config: SandboxConfig, credentials: SandboxCredentials, cloud: CloudConfig) -> dict:
    connection = connection_string(cloud, credentials.storage_keys[cloud.name])
    return {
        **az_environment(config, cloud),
        "ACRSANDBOX_CLOUD": cloud.name,
        "ACRSANDBOX_HOME": str(config.home),
        "ACRSANDBOX_PORT_BASE": str(config.port_base),
        "ACRSANDBOX_ARM_ENDPOINT": cloud.front_url + "/",
        "ACRSANDBOX_TENANT": cloud.tenant_id,
        "ACRSANDBOX_SUBSCRIPTION": cloud.subscription_id,
        "ACRSANDBOX_RESOURCE_GROUP": cloud.resource_group,
        "ACRSANDBOX_REGISTRY": cloud.registry_name,
        "ACRSANDBOX_LOGIN_SERVER": cloud.login_server,
        "ACRSANDBOX_REGISTRY_BACKEND": f"127.0.0.1:{cloud.registry_upstream_port}",
        "ACRSANDBOX_STORAGE_ACCOUNT": cloud.storage_account,
        "ACRSANDBOX_STORAGE_ACCOUNT_ID": cloud.storage_account_id,
        "ACRSANDBOX_STORAGE_CONTAINER": STORAGE_CONTAINER,
        "ACRSANDBOX_STORAGE_CONTAINER_URI": cloud.container_uri,
        "ACRSANDBOX_STORAGE_CONNECTION_STRING": connection,
        "AZURE_STORAGE_CONNECTION_STRING": connection,
        "ACRSANDBOX_KEYVAULT": cloud.vault_name,
        "ACRSANDBOX_KEYVAULT_ID": cloud.vault_id,
        "ACRSANDBOX_KEYVAULT_URI": cloud.vault_url,
        "ACRSANDBOX_SECRET_URI": cloud.secret_uri,
    }


def write_env_file(config: SandboxConfig, credentials: SandboxCredentials, cloud: CloudConfig) -> Path:
    path = config.env_file(cloud)
    lines = [f"# ACR Transfer sandbox, {cloud.name} cloud: `source {path}`, then use az as usual.",
             f"export PATH={shlex.quote(str(Path(az_executable()).parent))}:\"$PATH\"",
             *[f"export {name}={shlex.quote(value)}"
               for name, value in env_variables(config, credentials, cloud).items()]]
    # It holds the storage account key (in the connection string).
    write_private_file(path, ("\n".join(lines) + "\n").encode())
    return path
