"""Azurite, the clouds' blob service: how it is started (one account per cloud, both of its keys) and how a renewed
account key takes effect.

Azurite reads its accounts and keys (AZURITE_ACCOUNTS, `account:key1:key2;...`) only from its environment, at
start. So when `az storage account keys renew` replaces a key, the cloud process saves it with the sandbox's
credentials and restarts Azurite (stopped and started again by its recorded PID, its data kept in --location):
from then on Azurite itself refuses a SAS signed with the old key, 403 AuthenticationFailed, for every client,
as Azure does. Requests in flight during the restart (about a second) fail as a network error would.
"""
import logging

from . import processes
from ..plumbing.certs import ensure_certificates
from ..plumbing.config import REPO_ROOT, CloudConfig, SandboxConfig
from ..plumbing.credentials import SandboxCredentials

log = logging.getLogger("acrtransfer_sandbox.storage")

AZURITE_BIN = REPO_ROOT / ".tools" / "node_modules" / ".bin" / "azurite-blob"
AZURITE_PROCESS = "azurite"
RESTART_TIMEOUT_SECONDS = 30


def azurite_accounts(config: SandboxConfig, credentials: SandboxCredentials) -> str:
    return ";".join(f"{c.storage_account}:{credentials.storage_keys[c.name]}:"
                    f"{credentials.secondary_storage_keys[c.name]}" for c in config.clouds)


def azurite_process(config: SandboxConfig, credentials: SandboxCredentials, tls: dict) -> processes.ManagedProcess:
    if not AZURITE_BIN.exists():
        raise RuntimeError(f"Azurite is not installed at {AZURITE_BIN}: run `make sandbox-up` (it installs it).")
    location = config.home / "azurite"
    location.mkdir(parents=True, exist_ok=True)
    return processes.ManagedProcess(
        AZURITE_PROCESS,
        [str(AZURITE_BIN), "--blobHost", "127.0.0.1", "--blobPort", str(config.storage_port), "--location",
         str(location), "--cert", str(tls["cert"]), "--key", str(tls["key"]), "--skipApiVersionCheck",
         "--disableTelemetry", "--loose", "--silent"],
        marker=str(location),
        env={"AZURITE_ACCOUNTS": azurite_accounts(config, credentials), "NODE_EXTRA_CA_CERTS": str(tls["ca"])})


def key_renewal_handler(config: SandboxConfig, credentials: SandboxCredentials, credentials_file):
    """What the storage front calls after `keys renew` replaced a key in `credentials`: save the credentials, then
    restart Azurite if this sandbox runs one."""
    def renew(_cloud: CloudConfig) -> None:
        credentials.save(credentials_file)
        if processes.running_pid(config.pid_dir, AZURITE_PROCESS):
            restart_azurite(config, credentials)
    return renew


def restart_azurite(config: SandboxConfig, credentials: SandboxCredentials) -> None:
    processes.stop(config.pid_dir, AZURITE_PROCESS)
    pid = processes.start(azurite_process(config, credentials, ensure_certificates(config.home / "tls")),
                          config.pid_dir, config.log_dir)
    processes.wait_for_port(config.storage_port, RESTART_TIMEOUT_SECONDS, AZURITE_PROCESS, pid, config.log_dir)
    log.info("azurite restarted with the renewed account keys")
