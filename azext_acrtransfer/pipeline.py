# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""The export-pipeline and import-pipeline commands: create (one flow for both kinds), show, list, delete."""

from knack.log import get_logger

from ._access_guidance import permission_guidance
from ._existing import delete_existing, get_existing
from ._wire import ExportPipeline, ImportPipeline, PipelineIdentity, StorageContainer

logger = get_logger(__name__)

CREATED_NOT_GRANTED = "Pipeline '{}' was created, but its access was not granted: {}"


def create_export_pipeline(cmd, client, resource_group_name, registry_name, pipeline_name, storage_container_uri,
                           secret_uri=None, storage_access_mode=None, options=None, assign_identity=None,
                           grant_access=False):
    pipeline = ExportPipeline(target=StorageContainer(storage_container_uri, storage_access_mode, secret_uri),
                              identity=PipelineIdentity(assign_identity),
                              options=tuple(options or ()))
    return create_pipeline(cmd, client, (resource_group_name, registry_name, pipeline_name), pipeline, 'export',
                           grant_access)


def create_import_pipeline(cmd, client, resource_group_name, registry_name, pipeline_name, storage_container_uri,
                           secret_uri=None, storage_access_mode=None, options=None, assign_identity=None,
                           source_trigger_enabled=True, grant_access=False):
    pipeline = ImportPipeline(source=StorageContainer(storage_container_uri, storage_access_mode, secret_uri),
                              identity=PipelineIdentity(assign_identity),
                              source_trigger_enabled=source_trigger_enabled is not False,
                              options=tuple(options or ()))
    return create_pipeline(cmd, client, (resource_group_name, registry_name, pipeline_name), pipeline, 'import',
                           grant_access)


def create_pipeline(cmd, operations, names, pipeline, kind, grant_access=False):  # pylint: disable=too-many-arguments
    """PUT the pipeline and wait for it, then GET it: the stored resource is what the user sees. `names` is
    (resource group, registry, pipeline name).

    Afterwards, grant the pipeline's identity what it needs (--grant-access), or tell the user which permission
    it still needs, with a ready command.
    """
    _create(cmd, operations, names, pipeline, kind)
    created = get_existing(operations, *names)
    if grant_access:
        _grant_after_create(cmd, created, kind)
    else:
        logger.warning(permission_guidance(created, kind))
    return created


def _create(cmd, operations, names, pipeline, kind):  # pylint: disable=too-many-arguments
    """PUT and wait. A registry whose export policy is disabled refuses export pipelines with a 400: the error
    then names the policy and the fix. The registry is read only after such a refusal, so a create that works
    sends exactly the PUT (and its polls) and nothing else."""
    from azure.core.exceptions import HttpResponseError
    try:
        operations.begin_create_or_update(*names, pipeline.to_wire()).result()
    except HttpResponseError as error:
        if kind == 'export' and error.status_code == 400 and _exports_refused(cmd, names, error):
            from azure.cli.core.azclierror import ValidationError
            from ._registry_rules import export_policy_refusal
            raise ValidationError(export_policy_refusal(names[0], names[1])) from None
        raise


def _exports_refused(cmd, names, error):
    """Whether the 400 is the export policy's: the service's message says so, or the registry's policy does."""
    from ._registry_rules import exports_disabled, is_export_policy_refusal, registry_facts
    if is_export_policy_refusal(error.status_code, str(error)):
        return True
    try:
        from ._registry import registry_document
        return exports_disabled(registry_facts(registry_document(cmd, names[0], names[1]), names[0]))
    except Exception:  # pylint: disable=broad-except
        return False  # the registry cannot be read: the service's own error stands


def _grant_after_create(cmd, created, kind):
    from azure.cli.core.azclierror import AzCLIError
    from .grant import grant_pipeline_access
    try:
        grant_pipeline_access(cmd, created, kind)
    except AzCLIError as error:
        raise type(error)(CREATED_NOT_GRANTED.format(created.get('name'), error)) from None


def show_pipeline(client, resource_group_name, registry_name, pipeline_name):
    return get_existing(client, resource_group_name, registry_name, pipeline_name)


def list_pipelines(client, resource_group_name, registry_name):
    return list(client.list(resource_group_name, registry_name))


def delete_pipeline(client, resource_group_name, registry_name, pipeline_name):
    delete_existing(client, resource_group_name, registry_name, pipeline_name)
