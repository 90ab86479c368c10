# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""What export and import pipelines have in common: create flow, show, list, delete."""

from knack.log import get_logger

from ._permissions import permission_guidance
from ._utils import delete_existing, get_existing

logger = get_logger(__name__)


def create_pipeline(cmd, operations, names, pipeline, kind, grant_access=False):  # pylint: disable=too-many-arguments
    """PUT the pipeline and wait for it, then GET it: the stored resource is what the user sees. `names` is
    (resource group, registry, pipeline name).

    Afterwards, grant the pipeline's identity what it needs (--grant-access), or tell the user which permission
    it still needs, with a ready command.
    """
    operations.begin_create_or_update(*names, pipeline.to_wire()).result()
    created = get_existing(operations, *names)
    if grant_access:
        _grant_after_create(cmd, created, kind)
    else:
        logger.warning(permission_guidance(created, kind))
    return created


def _grant_after_create(cmd, created, kind):
    from azure.cli.core.azclierror import AzCLIError
    from .grant import grant_pipeline_access
    try:
        grant_pipeline_access(cmd, created, kind)
    except AzCLIError as error:
        raise type(error)("Pipeline '{}' was created, but its access was not granted: {}".format(
            created.get('name'), error)) from None


def show_pipeline(client, resource_group_name, registry_name, pipeline_name):
    return get_existing(client, resource_group_name, registry_name, pipeline_name)


def list_pipelines(client, resource_group_name, registry_name):
    return list(client.list(resource_group_name, registry_name))


def delete_pipeline(client, resource_group_name, registry_name, pipeline_name):
    delete_existing(client, resource_group_name, registry_name, pipeline_name)
