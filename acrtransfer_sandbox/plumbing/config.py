"""Where the sandbox lives and what each of its two clouds is made of.

Everything a process of the sandbox needs to know is derived from two inputs: the state directory
(``ACRSANDBOX_HOME``, default ``.sandbox`` in the checkout) and the port base (``ACRSANDBOX_PORT_BASE``,
default 27100). Names and ids are fixed so that env files, docs and tests can name them; secrets are random
per state directory (see ``secrets.py``).

``ACRSANDBOX_RUN_SHAPE`` (``default`` or ``spec``) chooses the lifecycle a pipeline run shows on the wire: see
``rules/run_shapes.py``.
"""
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

DEFAULT_PORT_BASE = 27100  # below Linux's ephemeral range (32768-60999): no outgoing connection holds these
REPO_ROOT = Path(__file__).resolve().parents[2]
RESOURCE_GROUP = "acrtransfer-rg"
LOCATION = "sandboxregion"
STORAGE_CONTAINER = "transfer"
SECRET_NAME = "acrtransfer-sas"
ARM_AUDIENCE = "https://management.acrsandbox.local/"
VAULT_AUDIENCE = "https://vault.acrsandbox.local"
# What az asks a token for before ACR's /oauth2/exchange (azure-cli's default `acr.audience_resource`; older az
# sends an ARM token). ACR takes either audience and nothing else.
ACR_AUDIENCE = "https://containerregistry.azure.net"
ACR_LOGIN_SERVER_SUFFIX = ".azurecr.acrsandbox.local"
KEYVAULT_DNS_SUFFIX = ".vault.acrsandbox.local"
STORAGE_ENDPOINT_SUFFIX = "core.acrsandbox.local"
# The source trigger polls every few seconds here; the service takes up to 15 minutes.
DEFAULT_TRIGGER_INTERVAL_SECONDS = 3.0
# Only blobs modified within this window start a source-triggered import (the service's rule).
TRIGGER_MAX_BLOB_AGE_DAYS = 60
RUN_SHAPE_SETTING = "ACRSANDBOX_RUN_SHAPE"
DEFAULT_RUN_SHAPE = "default"
RUN_SHAPES = (DEFAULT_RUN_SHAPE, "spec")  # what each shape means: rules/run_shapes.py
UNKNOWN_RUN_SHAPE = RUN_SHAPE_SETTING + "={!r} is not a run lifecycle this sandbox serves: use one of {}."
# ACRSANDBOX_REFERRERS_API=off: the registry fronts answer the OCI 1.1 referrers API with 404, as a registry without
# it does (Microsoft lists OCI 1.1 artifact support as not yet available in government clouds and 21Vianet), and
# `push-referrer --scheme api` then also keeps the referrers tag schema's index, as an OCI 1.1 client does there.
REFERRERS_API_SETTING = "ACRSANDBOX_REFERRERS_API"


def referrers_api_enabled() -> bool:
    return os.environ.get(REFERRERS_API_SETTING, "on").strip().lower() != "off"


def _stable_uuid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "acrtransfer-sandbox/" + "/".join(parts)))


@dataclass(frozen=True)
class CloudConfig:
    """One cloud: its ports, its tenant and subscription, and the resources seeded into it."""
    name: str
    front_port: int
    vault_port: int
    registry_front_port: int
    registry_upstream_port: int
    storage_port: int

    @property
    def cloud_name(self) -> str:
        return "AcrSandbox" + self.name.capitalize()

    @property
    def tenant_id(self) -> str:
        return _stable_uuid(self.name, "tenant")

    @property
    def subscription_id(self) -> str:
        return _stable_uuid(self.name, "subscription")

    @property
    def client_id(self) -> str:
        """The service principal `az login` signs in as (the operator's automation account)."""
        return _stable_uuid(self.name, "operator-app")

    @property
    def operator_object_id(self) -> str:
        return _stable_uuid(self.name, "operator-principal")

    @property
    def resource_group(self) -> str:
        return RESOURCE_GROUP

    @property
    def registry_name(self) -> str:
        return self.name + "registry"

    @property
    def vault_name(self) -> str:
        return self.name + "-vault"

    @property
    def storage_account(self) -> str:
        return self.name + "storage"

    @property
    def front_url(self) -> str:
        return f"https://127.0.0.1:{self.front_port}"

    @property
    def vault_url(self) -> str:
        return f"https://127.0.0.1:{self.vault_port}/"

    @property
    def login_server(self) -> str:
        return f"127.0.0.1:{self.registry_front_port}"

    @property
    def registry_upstream_url(self) -> str:
        return f"http://127.0.0.1:{self.registry_upstream_port}"

    @property
    def blob_endpoint(self) -> str:
        """Azurite serves accounts path-style: https://host:port/<account>."""
        return f"https://127.0.0.1:{self.storage_port}/{self.storage_account}"

    @property
    def container_uri(self) -> str:
        return f"{self.blob_endpoint}/{STORAGE_CONTAINER}"

    @property
    def secret_uri(self) -> str:
        return f"{self.vault_url}secrets/{SECRET_NAME}"

    @property
    def group_id(self) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"

    @property
    def registry_id(self) -> str:
        return f"{self.group_id}/providers/Microsoft.ContainerRegistry/registries/{self.registry_name}"

    @property
    def vault_id(self) -> str:
        return f"{self.group_id}/providers/Microsoft.KeyVault/vaults/{self.vault_name}"

    @property
    def storage_account_id(self) -> str:
        return f"{self.group_id}/providers/Microsoft.Storage/storageAccounts/{self.storage_account}"


def run_shape_from_environment() -> str:
    """The run lifecycle ACRSANDBOX_RUN_SHAPE names (empty or unset: the default); ValueError for another name."""
    name = os.environ.get(RUN_SHAPE_SETTING, "").strip() or DEFAULT_RUN_SHAPE
    if name not in RUN_SHAPES:
        raise ValueError(UNKNOWN_RUN_SHAPE.format(name, ", ".join(RUN_SHAPES)))
    return name


@dataclass(frozen=True)
class SandboxConfig:
    home: Path
    port_base: int
    trigger_interval: float
    response_log: Optional[Path] = None  # ACRSANDBOX_RESPONSE_LOG: see response_log.py
    run_shape: str = DEFAULT_RUN_SHAPE  # ACRSANDBOX_RUN_SHAPE: see rules/run_shapes.py

    @classmethod
    def from_environment(cls) -> "SandboxConfig":
        home = Path(os.environ.get("ACRSANDBOX_HOME", REPO_ROOT / ".sandbox")).resolve()
        port_base = int(os.environ.get("ACRSANDBOX_PORT_BASE", DEFAULT_PORT_BASE))
        interval = float(os.environ.get("ACRSANDBOX_TRIGGER_INTERVAL", DEFAULT_TRIGGER_INTERVAL_SECONDS))
        response_log = os.environ.get("ACRSANDBOX_RESPONSE_LOG")
        return cls(home=home, port_base=port_base, trigger_interval=interval,
                   response_log=Path(response_log).resolve() if response_log else None,
                   run_shape=run_shape_from_environment())

    @property
    def storage_port(self) -> int:
        return self.port_base + 20

    @property
    def source(self) -> CloudConfig:
        return self._cloud("source", self.port_base + 1)

    @property
    def target(self) -> CloudConfig:
        return self._cloud("target", self.port_base + 11)

    @property
    def clouds(self) -> tuple:
        return (self.source, self.target)

    def cloud(self, name: str) -> CloudConfig:
        return {c.name: c for c in self.clouds}[name]

    def _cloud(self, name: str, first_port: int) -> CloudConfig:
        return CloudConfig(name=name, front_port=first_port, vault_port=first_port + 1,
                           registry_front_port=first_port + 2, registry_upstream_port=first_port + 3,
                           storage_port=self.storage_port)

    # Paths under the state directory
    @property
    def ca_cert(self) -> Path:
        return self.home / "tls" / "ca.pem"

    @property
    def state_dir(self) -> Path:
        return self.home / "state"

    def registry_storage(self, cloud: CloudConfig) -> Path:
        """The filesystem storage of the cloud's docker-registry backend."""
        return self.home / "registries" / cloud.name

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def pid_dir(self) -> Path:
        return self.home / "pids"

    def azure_config_dir(self, cloud: CloudConfig) -> Path:
        return self.home / "az" / cloud.name

    def env_file(self, cloud: CloudConfig) -> Path:
        return self.home / f"{cloud.name}.env"
