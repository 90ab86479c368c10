"""Fixtures for the control-plane unit tests: a sandbox's control plane in a temporary directory, with a fake
transfer engine and fake storage in place of the real ones (these tests are about decisions, not moving bytes).

This folder is a package so that this conftest does not take the place of tests/sandbox/conftest.py, which the
data-plane tests import by the name `conftest`.
"""
import pytest

from .harness import FakeEngine, FakeStorage, Sandbox, install_fakes


@pytest.fixture
def engine():
    return FakeEngine()


@pytest.fixture
def fake_storage():
    return FakeStorage()


@pytest.fixture
def sandbox(tmp_path, monkeypatch, engine, fake_storage):
    install_fakes(monkeypatch, engine, fake_storage)
    return Sandbox(tmp_path / "sandbox", engine, fake_storage)
