# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""az acr import-pipeline create: a pipeline that imports blobs of a storage container into the registry."""

from ._wire import ImportPipeline, PipelineIdentity, StorageContainer
from .pipeline import create_pipeline


def create_import_pipeline(cmd, client, resource_group_name, registry_name, pipeline_name, storage_container_uri,
                           secret_uri=None, storage_access_mode=None, options=None, assign_identity=None,
                           source_trigger_enabled=True, grant_access=False):
    pipeline = ImportPipeline(source=StorageContainer(storage_container_uri, storage_access_mode, secret_uri),
                              identity=PipelineIdentity(assign_identity),
                              source_trigger_enabled=source_trigger_enabled is not False,
                              options=tuple(options or ()))
    return create_pipeline(cmd, client, (resource_group_name, registry_name, pipeline_name), pipeline, 'import',
                           grant_access)
