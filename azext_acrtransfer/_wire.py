# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""The ACR Transfer wire format, in one place: api-version, resource paths and request bodies.

Everything the extension sends to ARM is built here from small typed models, so this module can be held
side by side with a recorded request. Values arrive validated and normalised (see _validators.py).
"""

from dataclasses import dataclass
from typing import Optional, Tuple
from urllib.parse import quote

DEFAULT_API_VERSION = '2025-06-01-preview'
API_VERSION_CONFIG = ('acrtransfer', 'api_version')  # az config set acrtransfer.api_version=<v>

EXPORT_PIPELINES = 'exportPipelines'
IMPORT_PIPELINES = 'importPipelines'
PIPELINE_RUNS = 'pipelineRuns'

REGISTRY_PATH = ('/subscriptions/{subscription}/resourceGroups/{resource_group}'
                 '/providers/Microsoft.ContainerRegistry/registries/{registry}')

STORAGE_CONTAINER_TYPE = 'AzureStorageBlobContainer'
STORAGE_BLOB_TYPE = 'AzureStorageBlob'

MANAGED_IDENTITY = 'ManagedIdentity'
SAS_TOKEN = 'SasToken'
STORAGE_ACCESS_MODES = (MANAGED_IDENTITY, SAS_TOKEN)

EXPORT_OPTIONS = ('OverwriteBlobs', 'ContinueOnErrors')
IMPORT_OPTIONS = ('OverwriteTags', 'DeleteSourceBlobOnSuccess', 'ContinueOnErrors')

SYSTEM_IDENTITY = '[system]'


def path_segment(value: str) -> str:
    """One URL path segment: every character that could end it or start a query ('/', '?', '#', '%', ...) is
    percent-encoded, so no value can change which resource a request names (the validators refuse such values
    first; this is the defence in depth)."""
    return quote(value, safe='')


def registry_path(subscription: str, resource_group: str, registry: str) -> str:
    return REGISTRY_PATH.format(subscription=path_segment(subscription), resource_group=path_segment(resource_group),
                                registry=path_segment(registry))


def collection_path(subscription: str, resource_group: str, registry: str, collection: str) -> str:
    return '{}/{}'.format(registry_path(subscription, resource_group, registry), collection)


def resource_path(subscription: str, resource_group: str, registry: str, collection: str, name: str) -> str:
    return '{}/{}'.format(collection_path(subscription, resource_group, registry, collection), path_segment(name))


@dataclass(frozen=True)
class PipelineIdentity:
    """System-assigned when user_assigned_id is None; otherwise the user-assigned identity, id kept verbatim."""
    user_assigned_id: Optional[str] = None

    def to_wire(self) -> dict:
        if self.user_assigned_id is None:
            return {'type': 'SystemAssigned'}
        return {'type': 'UserAssigned', 'userAssignedIdentities': {self.user_assigned_id: {}}}


@dataclass(frozen=True)
class StorageContainer:
    uri: str
    access_mode: str
    key_vault_uri: Optional[str] = None

    def to_wire(self) -> dict:
        body = {'type': STORAGE_CONTAINER_TYPE, 'uri': self.uri, 'storageAccessMode': self.access_mode}
        if self.key_vault_uri:
            body['keyVaultUri'] = self.key_vault_uri
        return body


@dataclass(frozen=True)
class ExportPipeline:
    target: StorageContainer
    identity: PipelineIdentity
    options: Tuple[str, ...] = ()

    def to_wire(self) -> dict:
        properties = {'target': self.target.to_wire()}
        if self.options:
            properties['options'] = list(self.options)
        return {'identity': self.identity.to_wire(), 'properties': properties}


@dataclass(frozen=True)
class ImportPipeline:
    source: StorageContainer
    identity: PipelineIdentity
    source_trigger_enabled: bool = True
    options: Tuple[str, ...] = ()

    def to_wire(self) -> dict:
        status = 'Enabled' if self.source_trigger_enabled else 'Disabled'
        properties = {'source': self.source.to_wire(), 'trigger': {'sourceTrigger': {'status': status}}}
        if self.options:
            properties['options'] = list(self.options)
        return {'identity': self.identity.to_wire(), 'properties': properties}


@dataclass(frozen=True)
class ExportRun:
    pipeline_id: str
    blob: str
    artifacts: Tuple[str, ...]
    force_update_tag: Optional[str] = None

    def to_wire(self) -> dict:
        request = {'pipelineResourceId': self.pipeline_id,
                   'target': {'type': STORAGE_BLOB_TYPE, 'name': self.blob},
                   'artifacts': list(self.artifacts)}
        return _run_body(request, self.force_update_tag)


@dataclass(frozen=True)
class ImportRun:
    pipeline_id: str
    blob: str
    force_update_tag: Optional[str] = None

    def to_wire(self) -> dict:
        request = {'pipelineResourceId': self.pipeline_id,
                   'source': {'type': STORAGE_BLOB_TYPE, 'name': self.blob}}
        return _run_body(request, self.force_update_tag)


def _run_body(request: dict, force_update_tag: Optional[str]) -> dict:
    properties = {'request': request}
    if force_update_tag is not None:
        properties['forceUpdateTag'] = force_update_tag
    return {'properties': properties}
