# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""az acr export-pipeline create: a pipeline that writes artifacts as one blob into a storage container."""

from ._wire import ExportPipeline, PipelineIdentity, StorageContainer
from .pipeline import create_pipeline


def create_export_pipeline(cmd, client, resource_group_name, registry_name, pipeline_name, storage_container_uri,
                           secret_uri=None, storage_access_mode=None, options=None, assign_identity=None,
                           grant_access=False):
    pipeline = ExportPipeline(target=StorageContainer(storage_container_uri, storage_access_mode, secret_uri),
                              identity=PipelineIdentity(assign_identity),
                              options=tuple(options or ()))
    return create_pipeline(cmd, client, (resource_group_name, registry_name, pipeline_name), pipeline, 'export',
                           grant_access)
