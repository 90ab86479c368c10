"""Microsoft.ContainerRegistry exportPipelines, importPipelines and pipelineRuns.

The wire format follows what the service answers (see the conformance recordings): pipeline PUT answers 200
with provisioningState Succeeded and generated identity principal ids (identity type in camelCase); a run PUT
answers 201 with Azure-AsyncOperation + Retry-After and is executed in the background by the run executor. What a
run says while it goes is the run shape's (ACRSANDBOX_RUN_SHAPE, rules/run_shapes.py). Like ARM, every route
serves only the published api-versions of these types (rules/api_versions.py) and refuses any other with 400.
A pipeline PUT on a registry that is not Premium, or an export pipeline PUT on a registry whose export policy is
disabled, is refused with a 400 (rules/network.py).
Writes and deletes need the action in the caller's role assignments on the registry (rules/roles.py), else
ARM's 403 AuthorizationFailed, checked before the resource provider validates the request.
"""
import asyncio
import os
import uuid
from typing import Optional
from urllib.parse import quote

from aiohttp import web

from . import bodies
from ..plumbing.config import LOCATION, CloudConfig
from ..plumbing.store import ResourceStore
from ..rules.api_versions import SERVED_API_VERSION, api_version_refusal
from ..rules.pipelines import (EXPORT, IMPORT, NAME_PATTERN, RUN_TYPE, BadRequest, PipelineKind,
                               build_pipeline_document, new_run_document, validate_run_request)
from ..rules.network import pipeline_refused
from ..rules.roles import authorization_failure
from ..rules.run_shapes import run_in_progress
from .http_common import CALLER_CLAIMS_KEY, arm_error, ci_path, json_response, resource_not_found
from .tenancy import foreign_identity_error

LIST_PAGE_SIZE = 20
RETRY_AFTER_SECONDS = "1"
# ACRSANDBOX_ASYNC_RUN_DELETE=1: a run DELETE answers 202 + Location (the spec's long-running form) and the run
# reads Deleting for this long before it is gone: within the Retry-After the answer gives, as a service would.
ASYNC_RUN_DELETE_SETTING = "ACRSANDBOX_ASYNC_RUN_DELETE"
ASYNC_DELETE_SECONDS = 0.8


class PipelineApi:
    """The routes of the three resource types for one cloud; runs are handed to `executor.start`."""

    def __init__(self, cloud: CloudConfig, store: ResourceStore, executor, async_run_delete: Optional[bool] = None):
        self.cloud = cloud
        self.store = store
        self.executor = executor
        if async_run_delete is None:
            async_run_delete = os.environ.get(ASYNC_RUN_DELETE_SETTING, "") == "1"
        self.async_run_delete = async_run_delete
        self._run_deletions: dict = {}  # operation id -> run id, for the Location of a 202 DELETE

    def routes(self) -> web.RouteTableDef:
        routes = web.RouteTableDef()
        registry = ("/subscriptions/{subscription}/resourceGroups/{group}/providers/"
                    "Microsoft.ContainerRegistry/registries/{registry}")
        for kind in (EXPORT, IMPORT):
            versioned = self._versioned(kind.collection)
            routes.put(ci_path(f"{registry}/{kind.collection}/{{name}}"))(versioned(self.put_pipeline, kind))
            routes.get(ci_path(f"{registry}/{kind.collection}/{{name}}"))(versioned(self.get_one, kind.resource_type))
            routes.delete(ci_path(f"{registry}/{kind.collection}/{{name}}"))(versioned(self.delete_pipeline))
            routes.get(ci_path(f"{registry}/{kind.collection}"))(versioned(self.list_children, kind.collection))
        versioned = self._versioned("pipelineRuns")
        routes.put(ci_path(f"{registry}/pipelineRuns/{{name}}"))(versioned(self.put_run))
        routes.get(ci_path(f"{registry}/pipelineRuns/{{name}}"))(versioned(self.get_one, RUN_TYPE))
        routes.delete(ci_path(f"{registry}/pipelineRuns/{{name}}"))(versioned(self.delete_run))
        routes.get(ci_path(f"{registry}/pipelineRuns"))(versioned(self.list_children, "pipelineRuns"))
        routes.get(ci_path(f"{registry}/pipelineRuns/{{name}}/operationStatuses/{{operation}}"))(
            versioned(self.get_operation))
        routes.get(ci_path(f"{registry}/pipelineRuns/{{name}}/operationResults/{{operation}}"))(
            versioned(self.get_delete_result))
        return routes

    @staticmethod
    def _versioned(collection: str):
        """Bind a handler (and its argument) behind ARM's api-version check for `registries/<collection>`: ARM
        picks the provider by api-version before the request reaches it."""
        def bind(handler, *arguments):
            async def bound(request):
                refusal = api_version_refusal(request.query.get("api-version"), f"registries/{collection}", LOCATION)
                if refusal:
                    return arm_error(400, *refusal)
                return await handler(request, *arguments)
            return bound
        return bind

    # Shared checks
    def _registry_or_error(self, request) -> Optional[web.Response]:
        info = request.match_info
        if info["subscription"].lower() != self.cloud.subscription_id:
            return arm_error(404, "SubscriptionNotFound",
                             f"The subscription '{info['subscription']}' could not be found.")
        if info["group"].lower() != self.cloud.resource_group.lower():
            return arm_error(404, "ResourceGroupNotFound", f"Resource group '{info['group']}' could not be found.")
        if self.store.get(self._registry_id(request)) is None:
            return resource_not_found("Microsoft.ContainerRegistry/registries", info["registry"], info["group"])
        return None

    def _registry_id(self, request) -> str:
        info = request.match_info
        return (f"/subscriptions/{info['subscription']}/resourceGroups/{info['group']}/providers/"
                f"Microsoft.ContainerRegistry/registries/{info['registry']}")

    def _resource_id(self, request, collection: str) -> str:
        return f"{self._registry_id(request)}/{collection}/{request.match_info['name']}"

    @staticmethod
    def _collection_of(request) -> str:
        return request.path.rstrip("/").split("/")[-2]

    def _forbidden(self, request, collection: str, verb: str) -> Optional[web.Response]:
        """ARM's 403 when the caller's role assignments on the registry do not allow `verb` on `collection`."""
        action = f"Microsoft.ContainerRegistry/registries/{collection}/{verb}"
        oid = request[CALLER_CLAIMS_KEY].get("oid", "")
        message = authorization_failure(self.store, oid, self._registry_id(request), action)
        return arm_error(403, "AuthorizationFailed", message) if message else None

    @staticmethod
    def _caller(request) -> str:
        return request[CALLER_CLAIMS_KEY].get("appid", "unknown")

    def _not_found(self, request, resource_type: str) -> web.Response:
        name = f"{request.match_info['registry']}/{resource_type.rsplit('/', 1)[1]}/{request.match_info['name']}"
        return resource_not_found("Microsoft.ContainerRegistry/registries", name, request.match_info["group"])

    @staticmethod
    def _invalid_name_error(request):
        """Pipelines and runs the caller names: 5-50 alphanumerics, as the service requires."""
        name = request.match_info["name"]
        if NAME_PATTERN.match(name):
            return None
        return arm_error(400, "InvalidResourceName", f"Resource name '{name}' is invalid: use 5-50 alphanumeric "
                                                     "characters.")

    # Handlers
    async def put_pipeline(self, request, kind: PipelineKind):
        # ARM authorizes before the resource provider validates anything.
        error = self._registry_or_error(request) or self._forbidden(request, kind.collection, "write") \
            or self._invalid_name_error(request)
        if error:
            return error
        name = request.match_info["name"]
        resource_id = self._resource_id(request, kind.collection)
        body = await bodies.read(request, bodies.IMPORT_PIPELINE if kind.is_import else bodies.EXPORT_PIPELINE)
        refusal = pipeline_refused(self.store.get(self._registry_id(request)), not kind.is_import)
        if refusal:
            return arm_error(400, *refusal)
        existing = self.store.get(resource_id)
        try:
            document = build_pipeline_document(kind, resource_id, name, body, existing, self.cloud.tenant_id,
                                               self._caller(request))
        except BadRequest as exc:
            return arm_error(400, exc.code, exc.message)
        error = foreign_identity_error(self.cloud, request, body.get("identity"))
        if error:
            return error
        self.store.put(resource_id, document)
        return json_response(document, status=200)

    async def get_one(self, request, resource_type: str):
        error = self._registry_or_error(request)
        if error:
            return error
        document = self.store.get(self._resource_id(request, self._collection_of(request)))
        if document is None or document["type"] != resource_type:
            return self._not_found(request, resource_type)
        return json_response(document)

    async def delete_pipeline(self, request):
        error = self._registry_or_error(request) or self._forbidden(request, self._collection_of(request), "delete")
        if error:
            return error
        existed = self.store.delete(self._resource_id(request, self._collection_of(request)))
        return web.Response(status=200 if existed else 204)

    async def list_children(self, request, collection: str):
        error = self._registry_or_error(request)
        if error:
            return error
        documents = self.store.children(self._registry_id(request), collection)
        if collection == "pipelineRuns":
            documents.sort(key=lambda d: d["systemData"]["createdAt"])
        token = request.query.get("$skipToken", "0") or "0"
        if not token.isdigit():
            return arm_error(400, "InvalidSkipToken", f"The $skipToken '{token}' is not one this service issued.")
        skip = int(token)
        page = documents[skip:skip + LIST_PAGE_SIZE]
        body = {"value": page}
        if skip + LIST_PAGE_SIZE < len(documents):
            body["nextLink"] = str(request.url.update_query({"$skipToken": str(skip + LIST_PAGE_SIZE)}))
        return json_response(body)

    async def put_run(self, request):
        error = self._registry_or_error(request) or self._forbidden(request, "pipelineRuns", "write") \
            or self._invalid_name_error(request)
        if error:
            return error
        name = request.match_info["name"]
        body = await bodies.read(request, bodies.PIPELINE_RUN)
        properties = body.get("properties") or {}
        try:
            pipeline = self._pipeline_of_run(properties.get("request") or {}, self._registry_id(request))
            run_request = validate_run_request(properties["request"], pipeline)
        except BadRequest as exc:
            return arm_error(400, exc.code, exc.message)
        run_id = self._resource_id(request, "pipelineRuns")
        existing = self.store.get(run_id)
        force_tag = properties.get("forceUpdateTag")
        if existing and run_in_progress(existing):
            running = self._operation_of_running(run_id, existing)
            if running and run_request == existing["properties"]["request"] \
                    and force_tag == existing["properties"].get("forceUpdateTag"):
                # The same PUT again (a client retrying after a lost answer): ARM PUT is idempotent.
                return json_response(existing, status=201, headers=self._async_headers(request, running))
            return arm_error(409, "Conflict", f"The pipeline run '{name}' is still in progress; "
                                              "wait for it to finish before updating it.")
        if existing and existing["properties"]["request"] == run_request \
                and (force_tag is None or force_tag == existing["properties"].get("forceUpdateTag")):
            # Same properties, nothing forces a redeploy: ARM PUT is idempotent, report the finished run again.
            operation_id = self.executor.record_operation(existing)
            return json_response(existing, status=200, headers=self._async_headers(request, operation_id))
        document = new_run_document(run_id, name, run_request, force_tag, self._caller(request), existing,
                                    self.executor.shape)
        self.store.put(run_id, document)
        operation_id = self.executor.start(run_id)
        return json_response(document, status=200 if existing else 201,
                             headers=self._async_headers(request, operation_id))

    def _operation_of_running(self, run_id: str, run: dict) -> Optional[str]:
        """The operation a retried PUT of a running run answers with: the one in progress or, where the operation
        is finished when the run is accepted (the spec shape), a record of it."""
        running = self.executor.running_operation(run_id)
        if running is None and self.executor.shape.operation_done_at_start:
            running = self.executor.record_operation(run)
        return running

    def _pipeline_of_run(self, run_request: dict, registry_id: str) -> dict:
        pipeline_id = run_request.get("pipelineResourceId")
        if not pipeline_id:
            raise BadRequest("InvalidParameter", "request.pipelineResourceId is required.")
        # Both clouds share one store: a run may only use a pipeline of its own registry, as in the service.
        if not pipeline_id.lower().startswith(registry_id.lower() + "/"):
            raise BadRequest("InvalidPipelineResourceId", f"The pipeline '{pipeline_id}' was not found in registry "
                                                          f"'{registry_id.rsplit('/', 1)[-1]}'.")
        pipeline = self.store.get(pipeline_id)
        if pipeline is None or not pipeline["type"].endswith("Pipelines"):
            raise BadRequest("InvalidPipelineResourceId", f"The pipeline '{pipeline_id}' was not found.")
        return pipeline

    def _async_headers(self, request, operation_id: str) -> dict:
        url = (f"{self.cloud.front_url}{quote(self._resource_id(request, 'pipelineRuns'))}/operationStatuses/"
               f"{operation_id}?api-version={SERVED_API_VERSION}")
        return {"Azure-AsyncOperation": url, "Retry-After": RETRY_AFTER_SECONDS}

    async def delete_run(self, request):
        error = self._registry_or_error(request) or self._forbidden(request, "pipelineRuns", "delete")
        if error:
            return error
        run_id = self._resource_id(request, "pipelineRuns")
        existing = self.store.get(run_id)
        if existing and run_in_progress(existing):
            return arm_error(409, "Conflict", f"The pipeline run '{request.match_info['name']}' is still in progress "
                                              "and cannot be deleted yet.")
        if existing and self.async_run_delete:
            return self._start_run_deletion(request, run_id, existing)
        return web.Response(status=200 if self.store.delete(run_id) else 204)

    def _start_run_deletion(self, request, run_id: str, run: dict) -> web.Response:
        """202 + Location, as the spec allows; the Location answers 202 while the run reads Deleting, then 204.
        (Guess: the service's Location URL shape is not in the spec; this one follows ARM's operationResults.)"""
        if run["properties"]["provisioningState"] != "Deleting":
            run["properties"]["provisioningState"] = "Deleting"
            self.store.put(run_id, run)
            asyncio.get_running_loop().call_later(ASYNC_DELETE_SECONDS, self._finish_run_deletion, run_id)
        operation_id = str(uuid.uuid4())
        self._run_deletions[operation_id] = run_id
        return web.Response(status=202, headers=self._delete_result_headers(request, operation_id))

    def _delete_result_headers(self, request, operation_id: str) -> dict:
        url = (f"{self.cloud.front_url}{quote(self._resource_id(request, 'pipelineRuns'))}/operationResults/"
               f"{operation_id}?api-version={SERVED_API_VERSION}")
        return {"Location": url, "Retry-After": RETRY_AFTER_SECONDS}

    def _finish_run_deletion(self, run_id: str) -> None:
        run = self.store.get(run_id)
        if run and run["properties"]["provisioningState"] == "Deleting":
            self.store.delete(run_id)

    async def get_delete_result(self, request):
        error = self._registry_or_error(request)
        if error:
            return error
        run_id = self._run_deletions.get(request.match_info["operation"])
        if run_id is None or run_id != self._resource_id(request, "pipelineRuns"):
            return arm_error(404, "OperationNotFound", f"Operation '{request.match_info['operation']}' was not found.")
        run = self.store.get(run_id)
        if run and run["properties"]["provisioningState"] == "Deleting":
            return web.Response(status=202, headers=self._delete_result_headers(request,
                                                                                request.match_info["operation"]))
        self._run_deletions.pop(request.match_info["operation"], None)
        return web.Response(status=204)

    async def get_operation(self, request):
        error = self._registry_or_error(request)
        if error:
            return error
        operation = self.executor.operation(request.match_info["operation"])
        if operation is None:
            return arm_error(404, "OperationNotFound", f"Operation '{request.match_info['operation']}' was not found.")
        # Like ARM, tell the poller when to come back while the run is going (else it waits its own default).
        headers = {"Retry-After": RETRY_AFTER_SECONDS} if operation["status"] == "InProgress" else None
        public = {key: value for key, value in operation.items() if key != "runId"}
        return json_response(public, headers=headers)
