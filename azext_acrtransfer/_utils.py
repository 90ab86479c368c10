# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Helpers shared by the pipeline and pipeline-run commands."""

from azure.cli.core.azclierror import ResourceNotFoundError

from ._wire import EXPORT_PIPELINES, IMPORT_PIPELINES, PIPELINE_RUNS

RESOURCE_NOUNS = {EXPORT_PIPELINES: 'Export pipeline', IMPORT_PIPELINES: 'Import pipeline',
                  PIPELINE_RUNS: 'Pipeline run'}
NOT_FOUND = "{noun} '{name}' was not found in registry '{registry}' (resource group '{group}')."


def get_existing(operations, resource_group_name, registry_name, name):
    """GET one resource; a 404 becomes an error that says exactly what was not found where."""
    from azure.core.exceptions import ResourceNotFoundError as HttpNotFound
    try:
        return operations.get(resource_group_name, registry_name, name)
    except HttpNotFound:
        raise ResourceNotFoundError(NOT_FOUND.format(
            noun=RESOURCE_NOUNS[operations.collection], name=name, registry=registry_name,
            group=resource_group_name)) from None


def delete_existing(operations, resource_group_name, registry_name, name):
    """GET first so a missing resource is reported as such and no DELETE is sent, then DELETE and wait."""
    get_existing(operations, resource_group_name, registry_name, name)
    operations.begin_delete(resource_group_name, registry_name, name).result()
