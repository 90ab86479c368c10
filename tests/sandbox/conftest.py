"""Fixtures for the data-plane tests: a real Azurite for the session, fresh docker-registry instances per test, a
fresh container per test with SAS tokens made by the storage SDK (an independent implementation of the signing).

Nothing is skipped: a missing binary fails the test with the command that installs it.
"""
import asyncio
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from servers import AzuriteServer, MissingBinary, RegistryServer  # noqa: E402


def _start(server):
    try:
        return server.start()
    except MissingBinary as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope='session')
def azurite():
    server = _start(AzuriteServer())
    yield server
    server.stop()


@pytest.fixture
def source_registry():
    server = _start(RegistryServer())
    yield server
    server.stop()


@pytest.fixture
def target_registry():
    server = _start(RegistryServer())
    yield server
    server.stop()


class StorageContainer:
    """A fresh container in Azurite and the ways to authenticate to it."""

    def __init__(self, azurite: AzuriteServer):
        from azure.storage.blob import BlobServiceClient
        self.azurite = azurite
        self.name = 'transfer-' + uuid.uuid4().hex[:12]
        self.url = '{}/{}'.format(azurite.url, self.name)
        self.service = BlobServiceClient.from_connection_string(azurite.connection_string)
        self.service.create_container(self.name)

    def sas(self, permissions: str = 'racwdl', expiry: timedelta = timedelta(hours=1)) -> str:
        from azure.storage.blob import ContainerSasPermissions, generate_container_sas
        return generate_container_sas(self.azurite.account_name, self.name, account_key=self.azurite.account_key,
                                      permission=ContainerSasPermissions.from_string(permissions),
                                      expiry=datetime.now(timezone.utc) + expiry)

    def blob_client(self, blob_name: str):
        return self.service.get_blob_client(self.name, blob_name)


@pytest.fixture
def storage(azurite):
    return StorageContainer(azurite)


def run(coroutine):
    """Run one scenario on a fresh event loop (the suite needs no asyncio plugin)."""
    return asyncio.run(coroutine)


async def client_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600))
