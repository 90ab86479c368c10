"""The sandbox's cloud process: every HTTPS front of both clouds, the run executor and the source trigger.

Per cloud: the cloud front (identity + ARM + Key Vault management + authorization) on `front_port`, the Key Vault
secrets data plane on `vault_port` and the ACR-compatible registry front on `registry_front_port`.
"""
import asyncio
import logging
import signal
import ssl
from pathlib import Path
from typing import Optional

from aiohttp import web

from ..fronts.arm_core import build_core_routes
from ..fronts.authorization import build_authorization_routes
from ..plumbing.certs import ensure_certificates
from ..plumbing.config import ACR_AUDIENCE, ARM_AUDIENCE, STORAGE_CONTAINER, CloudConfig, SandboxConfig
from ..plumbing.credentials import SandboxCredentials
from ..plumbing.network_conditions import NetworkConditions
from ..plumbing.operators import operators_path
from .executor import RunExecutor
from ..fronts.faults import FaultInjector
from ..fronts.http_common import PATH_NOT_NORMALISED, access_log_middleware, arm_error, bearer_auth_middleware, \
    normalised_paths_middleware
from ..fronts.identity import build_identity_routes, is_identity_endpoint
from ..fronts.keyvault import build_vault_management_routes, make_secrets_app
from ..rules.resources import seed_core_resources
from ..rules.vaults import seed_vault
from ..fronts.pipelines import PipelineApi
from ..fronts.registry import make_registry_front_app
from ..fronts.response_log import response_log_middleware
from ..rules.sas import account_sas
from ..fronts.registries import build_registry_resource_routes
from ..fronts.storage_accounts import build_storage_account_routes
from ..plumbing.store import ResourceStore
from ..fronts.tenancy import tenancy_middleware
from ..plumbing.tokens import TokenIssuer
from .storage_service import key_renewal_handler
from .trigger import SourceTrigger

log = logging.getLogger("acrtransfer_sandbox.server")


def credentials_path(config: SandboxConfig):
    return config.home / "credentials.json"


def load_credentials(config: SandboxConfig) -> SandboxCredentials:
    return SandboxCredentials.load_or_create(credentials_path(config), [c.name for c in config.clouds])


def make_front_app(cloud: CloudConfig, store: ResourceStore, issuer: TokenIssuer, credentials: SandboxCredentials,
                   executor: RunExecutor, response_log: Optional[Path] = None,
                   on_key_renewed=None, operators_file: Optional[Path] = None) -> web.Application:
    """`response_log`: where to record the pipeline and run bodies served (ACRSANDBOX_RESPONSE_LOG);
    `on_key_renewed(cloud)`: what makes a renewed storage key take effect; `operators_file`: the principals added
    with `add-operator`, who may sign in too."""
    challenge = f'Bearer authorization_uri="{cloud.front_url}/{cloud.tenant_id}", error="invalid_token"'
    # A guess at ARM's answer to a path it would not route: 400 InvalidRequestUri.
    not_normalised = normalised_paths_middleware(lambda: arm_error(400, "InvalidRequestUri", PATH_NOT_NORMALISED))
    middlewares = [access_log_middleware, not_normalised]
    if response_log:
        middlewares.append(response_log_middleware(response_log))
    middlewares += [bearer_auth_middleware(issuer, cloud.tenant_id, ARM_AUDIENCE, is_identity_endpoint, challenge),
                    tenancy_middleware(cloud)]
    app = web.Application(middlewares=middlewares)
    app.add_routes(build_identity_routes(cloud, issuer, credentials.client_secrets[cloud.name], operators_file))
    app.add_routes(PipelineApi(cloud, store, executor).routes())
    app.add_routes(build_vault_management_routes(store))
    app.add_routes(build_core_routes(cloud, store))
    app.add_routes(build_authorization_routes(cloud, store))
    app.add_routes(build_registry_resource_routes(cloud, store))
    app.add_routes(build_storage_account_routes(cloud, store, credentials, on_key_renewed))
    return app


def aad_token_verifier(issuer: TokenIssuer, cloud: CloudConfig):
    """What the registry front accepts in /oauth2/exchange: a token this cloud's token endpoint issued for ARM or
    for ACR's own audience; as in ACR, a token for any other audience (Key Vault's, storage's) is refused."""
    accepted = {ARM_AUDIENCE.rstrip("/"), ACR_AUDIENCE.rstrip("/")}

    def verify(token: str):
        claims = issuer.verify(token)
        if not claims or claims.get("tid") != cloud.tenant_id:
            return None
        return claims if str(claims.get("aud", "")).rstrip("/") in accepted else None
    return verify


def seed_store(config: SandboxConfig, store: ResourceStore, credentials: SandboxCredentials) -> None:
    for cloud in config.clouds:
        seed_core_resources(store, cloud)
        sas = account_sas(cloud.storage_account, credentials.storage_keys[cloud.name])
        seed_vault(store, cloud, sas)


async def serve(config: SandboxConfig) -> None:
    credentials = load_credentials(config)
    tls = ensure_certificates(config.home / "tls")
    store = ResourceStore(config.state_dir / "resources.json")
    issuer = TokenIssuer(credentials.token_signing_key)
    seed_store(config, store, credentials)
    executor = RunExecutor(config, credentials, store)
    await executor.startup()

    server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ssl.load_cert_chain(str(tls["cert"]), str(tls["key"]))
    runners = []
    faults = FaultInjector(NetworkConditions.from_environment())
    if faults.conditions.active:
        log.warning("network conditions: %s", faults.describe())
    for cloud in config.clouds:
        renew = key_renewal_handler(config, credentials, credentials_path(config))
        apps = [(make_front_app(cloud, store, issuer, credentials, executor, config.response_log, renew,
                                operators_path(config.home)), cloud.front_port),
                (make_secrets_app(cloud, store, issuer), cloud.vault_port),
                (make_registry_front_app(cloud.registry_upstream_url, cloud.registry_name, cloud.login_server,
                                         aad_token_verifier(issuer, cloud), config.registry_storage(cloud)),
                 cloud.registry_front_port)]
        for (app, port), front in zip(apps, ("arm", "keyvault", "registry")):
            faults.apply(app, front, is_identity_endpoint if front == "arm" else lambda _request: False)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port, ssl_context=server_ssl).start()
            runners.append(runner)
    log.info("serving %s (container %s)", ", ".join(f"{c.name}: {c.front_url}" for c in config.clouds),
             STORAGE_CONTAINER)

    trigger_task = asyncio.create_task(SourceTrigger(config, store, executor).run_forever())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("stopping")
    trigger_task.cancel()
    await executor.shutdown()
    for runner in runners:
        await runner.cleanup()


def main(config: SandboxConfig) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(serve(config))
