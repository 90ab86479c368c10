# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Command names mapped to custom functions, validators and table formats."""

from azure.cli.core.commands import CliCommandType

from . import _validators as v
from ._client_factory import cf_acrtransfer, cf_export_pipelines, cf_import_pipelines
from ._format import (check_table, export_pipeline_table, flatten_output, import_pipeline_table,
                      pipeline_run_batch_table, pipeline_run_table, verify_table)
from ._redact import redacting_exception_handler


def load_command_table(self, _):
    pipeline_custom = CliCommandType(operations_tmpl='azext_acrtransfer.pipeline#{}')
    check_custom = CliCommandType(operations_tmpl='azext_acrtransfer.check#{}')
    grant_custom = CliCommandType(operations_tmpl='azext_acrtransfer.grant#{}')

    for kind, factory, table, validator in (
            ('export', cf_export_pipelines, export_pipeline_table, v.validate_export_pipeline_create),
            ('import', cf_import_pipelines, import_pipeline_table, v.validate_import_pipeline_create)):
        with self.command_group('acr {}-pipeline'.format(kind), custom_command_type=pipeline_custom,
                                is_preview=True, client_factory=factory,
                                exception_handler=redacting_exception_handler) as g:
            g.custom_command('create', 'create_{}_pipeline'.format(kind), validator=validator,
                             transform=flatten_output, table_transformer=table)
            g.custom_show_command('show', 'show_pipeline', validator=v.validate_existing_pipeline,
                                  transform=flatten_output, table_transformer=table)
            g.custom_command('list', 'list_pipelines', validator=v.validate_registry_name, transform=flatten_output,
                             table_transformer=table)
            g.custom_command('delete', 'delete_pipeline', validator=v.validate_existing_pipeline)
            g.custom_command('check', 'check_{}_pipeline'.format(kind), custom_command_type=check_custom,
                             validator=v.validate_pipeline_check, table_transformer=check_table)
            g.custom_command('grant', 'grant_{}_pipeline'.format(kind), custom_command_type=grant_custom,
                             validator=v.validate_existing_pipeline)

    run_custom = CliCommandType(operations_tmpl='azext_acrtransfer.pipeline_run#{}', client_factory=cf_acrtransfer)
    batch_custom = CliCommandType(operations_tmpl='azext_acrtransfer.pipeline_run_batch#{}',
                                  client_factory=cf_acrtransfer)
    verify_custom = CliCommandType(operations_tmpl='azext_acrtransfer.pipeline_run_verify#{}',
                                   client_factory=cf_acrtransfer)
    wait_custom = CliCommandType(operations_tmpl='azext_acrtransfer.pipeline_run_wait#{}',
                                 client_factory=cf_acrtransfer)
    with self.command_group('acr pipeline-run', custom_command_type=run_custom, is_preview=True,
                            client_factory=cf_acrtransfer, exception_handler=redacting_exception_handler) as g:
        g.custom_command('create', 'create_pipeline_run', supports_no_wait=True,
                         validator=v.validate_pipeline_run_create, transform=flatten_output,
                         table_transformer=pipeline_run_table)
        g.custom_command('create-batch', 'create_pipeline_run_batch', custom_command_type=batch_custom,
                         validator=v.validate_pipeline_run_create_batch, transform=flatten_output,
                         table_transformer=pipeline_run_batch_table)
        g.custom_show_command('show', 'show_pipeline_run', validator=v.validate_existing_run,
                              transform=flatten_output, table_transformer=pipeline_run_table)
        g.custom_command('list', 'list_pipeline_runs', validator=v.validate_pipeline_run_list,
                         transform=flatten_output, table_transformer=pipeline_run_table)
        g.custom_command('wait', 'wait_pipeline_run', custom_command_type=wait_custom,
                         validator=v.validate_pipeline_run_wait, transform=flatten_output,
                         table_transformer=pipeline_run_table)
        g.custom_command('verify', 'verify_pipeline_run', custom_command_type=verify_custom,
                         validator=v.validate_pipeline_run_verify, table_transformer=verify_table)
        g.custom_command('delete', 'delete_pipeline_run', validator=v.validate_existing_run)
        g.custom_command('clean', 'clean_pipeline_runs', validator=v.validate_registry_name,
                         transform=flatten_output)
