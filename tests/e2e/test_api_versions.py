"""The api-version through the real az: the extension's own and the 1.x extension's are served; one ARM does not
publish for these types is refused with ARM's message, which names the versions to use."""
import os
import subprocess

import pytest

from .conftest import AZ


def _list_pipelines(cloud, api_version: str) -> subprocess.CompletedProcess:
    # AZURE_ACRTRANSFER_API_VERSION is `az config set acrtransfer.api_version=<v>` as an environment variable.
    env = {**os.environ, **cloud.env, "AZURE_CORE_ONLY_SHOW_ERRORS": "true",
           "AZURE_ACRTRANSFER_API_VERSION": api_version}
    return subprocess.run([AZ, "acr", "export-pipeline", "list", "--resource-group", cloud.group, "--registry",
                           cloud.registry, "--output", "json"], env=env, capture_output=True, text=True,
                          timeout=300, check=False)


@pytest.mark.parametrize("api_version", ["2019-12-01-preview", "2025-06-01-preview"])
def test_a_published_version_is_served(source, api_version):
    listed = _list_pipelines(source, api_version)
    assert listed.returncode == 0, listed.stderr


def test_an_unpublished_version_is_refused_naming_the_supported_ones(source):
    refused = _list_pipelines(source, "1999-01-01")
    assert refused.returncode != 0
    assert "NoRegisteredProviderFound" in refused.stderr or "No registered resource provider" in refused.stderr
    assert "The supported api-versions are '2019-12-01-preview" in refused.stderr
