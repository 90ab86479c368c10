"""Fixtures for the control-plane unit tests: a sandbox's control plane in a temporary directory, with a fake
transfer engine and fake storage in place of the real ones (these tests are about decisions, not moving bytes).

This folder is a package so that this conftest does not take the place of tests/sandbox/conftest.py, which the
data-plane tests import by the name `conftest`.
"""
import pytest

from spec_schema import definitions_if_present, spec_check_of_response_log

from .harness import FakeEngine, FakeStorage, Sandbox, install_fakes


@pytest.fixture
def engine():
    return FakeEngine()


@pytest.fixture
def fake_storage():
    return FakeStorage()


@pytest.fixture(scope="session")
def spec_definitions():
    return definitions_if_present()


@pytest.fixture
def sandbox(tmp_path, monkeypatch, engine, fake_storage, spec_definitions):
    """After the test, every resource body the front served must use only the spec's property names (a check that
    does nothing, counted, without ../shared/spec)."""
    install_fakes(monkeypatch, engine, fake_storage)
    instance = Sandbox(tmp_path / "sandbox", engine, fake_storage)
    yield instance
    assert spec_check_of_response_log(spec_definitions, str(instance.config.response_log)) == []


@pytest.fixture
def spec_sandbox(tmp_path, monkeypatch, engine, fake_storage, spec_definitions):
    """The same, serving the spec's run lifecycle (ACRSANDBOX_RUN_SHAPE=spec)."""
    install_fakes(monkeypatch, engine, fake_storage)
    instance = Sandbox(tmp_path / "sandbox", engine, fake_storage, run_shape="spec")
    yield instance
    assert spec_check_of_response_log(spec_definitions, str(instance.config.response_log)) == []
