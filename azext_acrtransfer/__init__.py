# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""ACR Transfer for the Azure CLI: az acr export-pipeline, import-pipeline and pipeline-run."""

from azure.cli.core import AzCommandsLoader

from azext_acrtransfer._help import helps  # noqa: F401  pylint: disable=unused-import


class AcrTransferCommandsLoader(AzCommandsLoader):

    def __init__(self, cli_ctx=None):
        super().__init__(cli_ctx=cli_ctx)

    def load_command_table(self, args):
        from azext_acrtransfer.commands import load_command_table
        load_command_table(self, args)
        return self.command_table

    def load_arguments(self, command):
        from azext_acrtransfer._params import load_arguments
        load_arguments(self, command)


COMMAND_LOADER_CLS = AcrTransferCommandsLoader  # pylint: disable=invalid-name
