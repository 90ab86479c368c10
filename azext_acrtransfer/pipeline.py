# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""What export and import pipelines have in common: create flow, show, list, delete."""

from knack.log import get_logger

from ._permissions import permission_guidance
from ._utils import delete_existing, get_existing

logger = get_logger(__name__)


def create_pipeline(operations, resource_group_name, registry_name, pipeline_name, pipeline, kind):
    """PUT the pipeline and wait for it, then GET it: the stored resource is what the user sees.

    Afterwards, tell the user which permission the pipeline's identity still needs, with a ready command.
    """
    operations.begin_create_or_update(resource_group_name, registry_name, pipeline_name,
                                      pipeline.to_wire()).result()
    created = get_existing(operations, resource_group_name, registry_name, pipeline_name)
    logger.warning(permission_guidance(created, kind))
    return created


def show_pipeline(client, resource_group_name, registry_name, pipeline_name):
    return get_existing(client, resource_group_name, registry_name, pipeline_name)


def list_pipelines(client, resource_group_name, registry_name):
    return list(client.list(resource_group_name, registry_name))


def delete_pipeline(client, resource_group_name, registry_name, pipeline_name):
    delete_existing(client, resource_group_name, registry_name, pipeline_name)
