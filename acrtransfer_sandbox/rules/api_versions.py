"""The api-versions ARM serves for exportPipelines, importPipelines and pipelineRuns, and its refusal of any other.

Where the list comes from: the ContainerRegistry API folders of Azure/azure-rest-api-specs
(specification/containerregistry/resource-manager/Microsoft.ContainerRegistry/...) and the resource types generated
from them (Azure/bicep-types-az, generated/containerregistry/microsoft.containerregistry/<version>/types.md).
The pipeline types first appear in 2019-12-01-preview (the version Microsoft's SDK and the original 1.x extension
still send) and are in every preview since, up to 2025-06-01-preview (the API spec this project follows, the
extension's default); no stable version (2017-10-01 ... 2025-04-01) carries them. Guess: that ARM registers every
published preview for these types in every location; a region's list may be shorter in the service.

ARM answers an api-version the resource type does not register with 400 NoRegisteredProviderFound naming the
supported versions and locations, and a request without one with 400 MissingApiVersionParameter.
"""
from typing import Optional

PIPELINE_API_VERSIONS = (
    "2019-12-01-preview",
    "2020-11-01-preview",
    "2021-06-01-preview",
    "2021-08-01-preview",
    "2021-12-01-preview",
    "2022-02-01-preview",
    "2023-01-01-preview",
    "2023-06-01-preview",
    "2023-08-01-preview",
    "2023-11-01-preview",
    "2024-11-01-preview",
    "2025-03-01-preview",
    "2025-05-01-preview",
    "2025-06-01-preview",
)
# The version the sandbox writes into the URLs it hands out (Azure-AsyncOperation, Location, nextLink).
SERVED_API_VERSION = "2025-06-01-preview"
MISSING_API_VERSION = "The api-version query parameter (?api-version=) is required for all requests."
UNSUPPORTED_API_VERSION = ("No registered resource provider found for location '{location}' and API version "
                           "'{version}' for type '{resource_type}'. The supported api-versions are '{supported}'. "
                           "The supported locations are '{location}'.")


def api_version_refusal(api_version: Optional[str], resource_type: str, location: str) -> Optional[tuple]:
    """(code, message) of ARM's 400 when `api_version` is missing or not served for `resource_type`
    (e.g. 'registries/pipelineRuns'), else None."""
    if not api_version:
        return "MissingApiVersionParameter", MISSING_API_VERSION
    if api_version.lower() in PIPELINE_API_VERSIONS:  # ARM reads api-versions in any case
        return None
    return "NoRegisteredProviderFound", UNSUPPORTED_API_VERSION.format(
        location=location, version=api_version, resource_type=resource_type,
        supported=", ".join(PIPELINE_API_VERSIONS))
