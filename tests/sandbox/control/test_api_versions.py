"""Like ARM, the front serves the published api-versions of exportPipelines, importPipelines and pipelineRuns and
refuses any other (or none) with ARM's 400, before the request reaches the resource provider."""
import pytest

from azext_acrtransfer._wire import DEFAULT_API_VERSION

from acrtransfer_sandbox.plumbing.config import LOCATION
from acrtransfer_sandbox.rules.api_versions import PIPELINE_API_VERSIONS

from .harness import export_pipeline_body, export_run_body, pipeline_path, run_path, sas_storage

# What Microsoft's SDK and the original 1.x extension send, and this extension's own pinned version.
MUST_ACCEPT = ("2019-12-01-preview", DEFAULT_API_VERSION)
UNPUBLISHED = ("1999-01-01", "2025-04-01", "2019-06-01-preview", "latest")


def _paths(cloud) -> dict:
    return {"registries/exportPipelines": pipeline_path(cloud, "exportPipelines", "exportpipe1"),
            "registries/importPipelines": pipeline_path(cloud, "importPipelines", "importpipe1"),
            "registries/pipelineRuns": run_path(cloud, "exportrun1")}


def test_the_list_holds_the_versions_clients_send_and_no_stable_one():
    assert set(MUST_ACCEPT) <= set(PIPELINE_API_VERSIONS)
    assert all(version.endswith("-preview") for version in PIPELINE_API_VERSIONS)
    assert list(PIPELINE_API_VERSIONS) == sorted(set(PIPELINE_API_VERSIONS))


def test_every_published_version_is_served_for_each_type(sandbox):
    cloud = sandbox.source

    async def scenario(client):
        statuses = {}
        for resource_type, path in _paths(cloud).items():
            collection = path.rsplit("/", 1)[0]
            for version in PIPELINE_API_VERSIONS + ("2019-12-01-PREVIEW",):
                statuses[(resource_type, version)] = (await client.get(f"{collection}?api-version={version}")).status
        return statuses

    statuses = sandbox.run(scenario)
    assert set(statuses.values()) == {200}, {key: status for key, status in statuses.items() if status != 200}


@pytest.mark.parametrize("version", UNPUBLISHED)
@pytest.mark.parametrize("method, resource_type", [("get", "registries/exportPipelines"),
                                                   ("put", "registries/exportPipelines"),
                                                   ("delete", "registries/importPipelines"),
                                                   ("get", "registries/pipelineRuns"),
                                                   ("put", "registries/pipelineRuns")])
def test_another_version_is_refused_naming_the_supported_ones(sandbox, version, method, resource_type):
    cloud = sandbox.source
    path = _paths(cloud)[resource_type]
    body = export_pipeline_body(sas_storage(cloud)) if "Pipelines" in resource_type \
        else export_run_body(pipeline_path(cloud, "exportPipelines", "exportpipe1"))

    async def scenario(client):
        response = await getattr(client, method)(f"{path}?api-version={version}",
                                                 **({"json": body} if method == "put" else {}))
        return response.status, await response.json()

    status, answer = sandbox.run(scenario)
    assert status == 400
    assert answer["error"]["code"] == "NoRegisteredProviderFound"
    assert answer["error"]["message"] == (
        f"No registered resource provider found for location '{LOCATION}' and API version '{version}' for type "
        f"'{resource_type}'. The supported api-versions are '{', '.join(PIPELINE_API_VERSIONS)}'. "
        f"The supported locations are '{LOCATION}'.")
    assert sandbox.store.get(path) is None            # refused before anything was created


def test_a_refused_version_starts_no_run(sandbox, engine):
    cloud = sandbox.source

    async def scenario(client):
        pipeline = await (await client.put(_paths(cloud)["registries/exportPipelines"]
                                           + f"?api-version={DEFAULT_API_VERSION}",
                                           json=export_pipeline_body(sas_storage(cloud)))).json()
        response = await client.put(run_path(cloud, "exportrun1") + "?api-version=1999-01-01",
                                    json=export_run_body(pipeline["id"]))
        return response.status

    assert sandbox.run(scenario) == 400
    assert engine.calls == [] and sandbox.store.get(run_path(cloud, "exportrun1")) is None


@pytest.mark.parametrize("query", ["", "?api-version=", "?other=1"])
def test_a_request_without_a_version_is_refused(sandbox, query):
    cloud = sandbox.source

    async def scenario(client):
        response = await client.get(_paths(cloud)["registries/pipelineRuns"] + query)
        return response.status, await response.json()

    status, answer = sandbox.run(scenario)
    assert (status, answer["error"]["code"]) == (400, "MissingApiVersionParameter")
    assert "api-version" in answer["error"]["message"]


def test_the_operation_urls_the_front_hands_out_carry_a_served_version(sandbox):
    cloud = sandbox.source

    async def scenario(client):
        pipeline = await (await client.put(_paths(cloud)["registries/exportPipelines"]
                                           + f"?api-version={DEFAULT_API_VERSION}",
                                           json=export_pipeline_body(sas_storage(cloud)))).json()
        sandbox.grant_secret_get(cloud, pipeline["identity"]["principalId"])
        response = await client.put(run_path(cloud, "exportrun1") + "?api-version=2019-12-01-preview",
                                    json=export_run_body(pipeline["id"]))
        operation_url = response.headers["Azure-AsyncOperation"]
        operation = await client.get("/" + operation_url.split("://", 1)[1].split("/", 1)[1])
        return response.status, operation.status

    assert sandbox.run(scenario) == (201, 200)


def test_an_unauthenticated_request_is_a_401_whatever_its_version(sandbox):
    cloud = sandbox.source

    async def scenario(client):
        response = await client.get(_paths(cloud)["registries/pipelineRuns"] + "?api-version=1999-01-01",
                                    headers={"Authorization": "Bearer not-a-token"})
        return response.status

    assert sandbox.run(scenario) == 401
