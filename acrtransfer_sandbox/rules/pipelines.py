"""Pipelines and runs as the cloud keeps them: the documents a pipeline or run PUT creates, the checks on them,
and the facts the run executor and the source trigger act on (the pipeline's principal); a run's lifecycle is
run_shapes.py's."""
import re
import uuid
from typing import Optional

from ..plumbing.clock import utc_now
from .run_shapes import RunShape, run_shape_named

NAME_PATTERN = re.compile(r"^[a-zA-Z0-9]{5,50}$")
MAX_ARTIFACTS = 50
EXPORT_OPTIONS = {"OverwriteBlobs", "ContinueOnErrors"}
IMPORT_OPTIONS = {"OverwriteTags", "DeleteSourceBlobOnSuccess", "ContinueOnErrors"}
ACCESS_MODES = {"managedidentity": "ManagedIdentity", "sastoken": "SasToken"}


class PipelineKind:
    def __init__(self, collection: str, storage_key: str, options: set):
        self.collection = collection          # URL segment, e.g. exportPipelines
        self.storage_key = storage_key        # 'target' for export, 'source' for import
        self.options = options

    @property
    def resource_type(self) -> str:
        return f"Microsoft.ContainerRegistry/registries/{self.collection}"

    @property
    def is_import(self) -> bool:
        return self.storage_key == "source"


EXPORT = PipelineKind("exportPipelines", "target", EXPORT_OPTIONS)
IMPORT = PipelineKind("importPipelines", "source", IMPORT_OPTIONS)
RUN_TYPE = "Microsoft.ContainerRegistry/registries/pipelineRuns"


class BadRequest(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def user_assigned_principal(identity_id: str, what: str) -> str:
    """A user-assigned identity has one principal wherever it is used, as in Entra ID: derive it from its id."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"user-assigned/{what}/{identity_id.lower()}"))


def pipeline_principal_id(pipeline: dict) -> Optional[str]:
    """The principal the pipeline acts as: the system identity, else its (first) user-assigned identity."""
    identity = pipeline.get("identity") or {}
    if identity.get("principalId"):
        return identity["principalId"]
    for entry in (identity.get("userAssignedIdentities") or {}).values():
        return entry.get("principalId")
    return None


def build_identity(requested: Optional[dict], existing: Optional[dict], tenant_id: str) -> dict:
    requested = requested or {"type": "SystemAssigned"}
    kind = str(requested.get("type", "")).replace(" ", "").lower()
    if kind == "systemassigned":
        keep = existing if existing and existing.get("type") == "systemAssigned" else None
        return {"principalId": keep["principalId"] if keep else str(uuid.uuid4()), "tenantId": tenant_id,
                "type": "systemAssigned"}
    if kind == "userassigned":
        identities = requested.get("userAssignedIdentities") or {}
        if not identities:
            raise BadRequest("InvalidIdentity",
                             "A UserAssigned identity needs at least one userAssignedIdentities entry.")
        for identity_id in identities:
            if "/providers/microsoft.managedidentity/userassignedidentities/" not in identity_id.lower():
                raise BadRequest("InvalidIdentity", f"'{identity_id}' is not a user-assigned identity resource id.")
        return {"type": "userAssigned",
                "userAssignedIdentities": {
                    identity_id: {"principalId": user_assigned_principal(identity_id, "principal"),
                                  "clientId": user_assigned_principal(identity_id, "client")}
                    for identity_id in identities}}
    raise BadRequest("InvalidIdentity", f"Identity type '{requested.get('type')}' is not supported; "
                                        "use SystemAssigned or UserAssigned.")


def build_storage_properties(kind: PipelineKind, given: Optional[dict]) -> dict:
    if not isinstance(given, dict) or not given.get("uri"):
        raise BadRequest("InvalidParameter",
                         f"properties.{kind.storage_key}.uri is required: the storage container URI.")
    if given.get("type", "AzureStorageBlobContainer") != "AzureStorageBlobContainer":
        raise BadRequest("InvalidParameter", f"properties.{kind.storage_key}.type must be AzureStorageBlobContainer.")
    mode = ACCESS_MODES.get(str(given.get("storageAccessMode", "SasToken")).lower())
    if mode is None:
        raise BadRequest("InvalidParameter", "storageAccessMode must be ManagedIdentity or SasToken.")
    if mode == "SasToken" and not given.get("keyVaultUri"):
        raise BadRequest("InvalidParameter", "SasToken storage access needs keyVaultUri: the Key Vault secret "
                                             "holding the SAS token.")
    if mode == "ManagedIdentity" and given.get("keyVaultUri"):
        raise BadRequest("InvalidParameter", "ManagedIdentity storage access takes no keyVaultUri.")
    storage = {"type": "AzureStorageBlobContainer", "uri": given["uri"]}
    if given.get("keyVaultUri"):
        storage["keyVaultUri"] = given["keyVaultUri"]
    storage["storageAccessMode"] = mode
    return storage


def build_pipeline_document(kind: PipelineKind, resource_id: str, name: str, body: dict,
                            existing: Optional[dict], tenant_id: str, caller: str) -> dict:
    properties = body.get("properties") or {}
    new_properties = {kind.storage_key: build_storage_properties(kind, properties.get(kind.storage_key))}
    if kind.is_import:
        status = ((properties.get("trigger") or {}).get("sourceTrigger") or {}).get("status", "Enabled")
        if status not in ("Enabled", "Disabled"):
            raise BadRequest("InvalidParameter", "trigger.sourceTrigger.status must be Enabled or Disabled.")
        new_properties["trigger"] = {"sourceTrigger": {"status": status}}
    if properties.get("options"):
        unknown = [o for o in properties["options"] if o not in kind.options]
        if unknown:
            raise BadRequest("InvalidParameter", f"Unknown option(s) {unknown} for {kind.collection}; "
                                                 f"allowed: {sorted(kind.options)}.")
        new_properties["options"] = list(properties["options"])
    new_properties["provisioningState"] = "Succeeded"
    return {"type": kind.resource_type,
            "identity": build_identity(body.get("identity"), (existing or {}).get("identity"), tenant_id),
            "id": resource_id, "name": name,
            "systemData": system_data(caller, (existing or {}).get("systemData")),
            "properties": new_properties}


def system_data(caller: str, existing: Optional[dict]) -> dict:
    now = utc_now()
    created = existing or {"createdBy": caller, "createdByType": "Application", "createdAt": now}
    return {"createdBy": created["createdBy"], "createdByType": created["createdByType"],
            "createdAt": created["createdAt"], "lastModifiedBy": caller, "lastModifiedByType": "Application",
            "lastModifiedAt": now}


def validate_run_request(request_body: dict, pipeline: dict) -> dict:
    """The run's request as stored: exactly what the client sent, once it is known to be runnable."""
    kind = IMPORT if pipeline["type"].endswith("importPipelines") else EXPORT
    if kind.is_import:
        source = request_body.get("source") or {}
        if not source.get("name"):
            raise BadRequest("InvalidParameter", "An import run needs request.source.name: the blob to import.")
    else:
        target = request_body.get("target") or {}
        if not target.get("name"):
            raise BadRequest("InvalidParameter", "An export run needs request.target.name: the blob to write.")
        artifacts = request_body.get("artifacts") or []
        if not 1 <= len(artifacts) <= MAX_ARTIFACTS:
            raise BadRequest("InvalidParameter",
                             f"An export run needs between 1 and {MAX_ARTIFACTS} artifacts; got {len(artifacts)}.")
    return request_body


def new_run_document(run_id: str, name: str, run_request: dict, force_tag: Optional[str], caller: str,
                     existing: Optional[dict], shape: Optional[RunShape] = None) -> dict:
    """A run as the PUT (or the source trigger) starts it, in the lifecycle `shape` (default: the default one)."""
    shape = shape or run_shape_named(None)
    properties = {"request": run_request,
                  "response": {"status": "Running", "progress": {"percentage": "0"}, "startTime": utc_now(),
                               "importedArtifacts": []},
                  "provisioningState": shape.provisioning_state_at_start(rerun=existing is not None)}
    if force_tag is not None:
        properties["forceUpdateTag"] = force_tag
    return {"type": RUN_TYPE, "id": run_id, "name": name,
            "systemData": system_data(caller, (existing or {}).get("systemData")), "properties": properties}
