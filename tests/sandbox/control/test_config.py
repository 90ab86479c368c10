"""The configuration every sandbox process derives from ACRSANDBOX_HOME and ACRSANDBOX_PORT_BASE."""
import uuid
from pathlib import Path

import pytest

from acrtransfer_sandbox.plumbing.config import DEFAULT_PORT_BASE, REPO_ROOT, STORAGE_CONTAINER, SandboxConfig


def _ports(config: SandboxConfig) -> list:
    return [port for cloud in config.clouds for port in (cloud.front_port, cloud.vault_port,
                                                         cloud.registry_front_port, cloud.registry_upstream_port)]


def test_defaults_and_environment(monkeypatch, tmp_path):
    for name in ("ACRSANDBOX_HOME", "ACRSANDBOX_PORT_BASE", "ACRSANDBOX_TRIGGER_INTERVAL"):
        monkeypatch.delenv(name, raising=False)
    default = SandboxConfig.from_environment()
    assert (default.home, default.port_base) == (REPO_ROOT / ".sandbox", DEFAULT_PORT_BASE)
    assert default.trigger_interval > 0

    monkeypatch.setenv("ACRSANDBOX_HOME", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("ACRSANDBOX_PORT_BASE", "52000")
    monkeypatch.setenv("ACRSANDBOX_TRIGGER_INTERVAL", "0.5")
    config = SandboxConfig.from_environment()
    assert (config.home, config.port_base, config.trigger_interval) == (tmp_path / "elsewhere", 52000, 0.5)
    assert config.state_dir == tmp_path / "elsewhere" / "state"
    assert config.env_file(config.target) == tmp_path / "elsewhere" / "target.env"


@pytest.mark.parametrize("base", [DEFAULT_PORT_BASE, 20000])
def test_every_endpoint_has_its_own_port_above_the_base(base):
    config = SandboxConfig(home=Path("/x"), port_base=base, trigger_interval=1)
    ports = _ports(config) + [config.storage_port]
    assert len(set(ports)) == len(ports)
    assert all(base < port < base + 100 for port in ports)
    assert {cloud.storage_port for cloud in config.clouds} == {config.storage_port}


def test_ids_are_stable_per_cloud_and_differ_between_clouds():
    first = SandboxConfig(home=Path("/a"), port_base=1000, trigger_interval=1)
    again = SandboxConfig(home=Path("/b"), port_base=2000, trigger_interval=1)
    for name in ("source", "target"):
        one, other = first.cloud(name), again.cloud(name)
        assert (one.tenant_id, one.subscription_id, one.client_id) == (other.tenant_id, other.subscription_id,
                                                                       other.client_id)
    source, target = first.source, first.target
    ids = [source.tenant_id, source.subscription_id, source.client_id, source.operator_object_id,
           target.tenant_id, target.subscription_id, target.client_id, target.operator_object_id]
    assert len(set(ids)) == len(ids)
    assert all(str(uuid.UUID(value)) == value for value in ids)


def test_resource_ids_and_uris_name_the_clouds_own_resources():
    target = SandboxConfig(home=Path("/x"), port_base=47100, trigger_interval=1).target
    group = f"/subscriptions/{target.subscription_id}/resourceGroups/{target.resource_group}"
    assert target.registry_id == group + "/providers/Microsoft.ContainerRegistry/registries/targetregistry"
    assert target.vault_id == group + "/providers/Microsoft.KeyVault/vaults/target-vault"
    assert target.storage_account_id == group + "/providers/Microsoft.Storage/storageAccounts/targetstorage"
    assert target.container_uri == f"https://127.0.0.1:47120/targetstorage/{STORAGE_CONTAINER}"
    assert target.secret_uri == f"https://127.0.0.1:{target.vault_port}/secrets/acrtransfer-sas"
    assert target.login_server == f"127.0.0.1:{target.registry_front_port}"
    assert target.cloud_name == "AcrSandboxTarget"


def test_an_unknown_cloud_name_is_an_error():
    with pytest.raises(KeyError):
        SandboxConfig(home=Path("/x"), port_base=1, trigger_interval=1).cloud("third")
