# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Clients for the commands, made through az's factory so login, cloud, logging and retries apply."""

from ._wire import API_VERSION_CONFIG, DEFAULT_API_VERSION


def transfer_api_version(cli_ctx):
    """The pinned api-version, unless `az config set acrtransfer.api_version=<v>` or
    AZURE_ACRTRANSFER_API_VERSION (knack maps the environment variable onto the same setting) says otherwise."""
    section, option = API_VERSION_CONFIG
    return cli_ctx.config.get(section, option, DEFAULT_API_VERSION) or DEFAULT_API_VERSION


def cf_acrtransfer(cli_ctx, *_):
    from azure.cli.core.commands.client_factory import get_mgmt_service_client
    from ._client import ContainerRegistryTransferClient
    from ._redact import redact_secrets_in_logs
    redact_secrets_in_logs()
    return get_mgmt_service_client(cli_ctx, ContainerRegistryTransferClient,
                                   api_version=transfer_api_version(cli_ctx))


def cf_export_pipelines(cli_ctx, *_):
    return cf_acrtransfer(cli_ctx).export_pipelines


def cf_import_pipelines(cli_ctx, *_):
    return cf_acrtransfer(cli_ctx).import_pipelines
