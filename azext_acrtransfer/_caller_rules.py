# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""What the caller may do on the registry, from ARM's effective permissions
(`{registry id}/providers/Microsoft.Authorization/permissions`): one entry per role, each allowing its actions
minus its notActions, wildcards as Azure RBAC writes them ("*", "Microsoft.ContainerRegistry/*")."""

import fnmatch

from ._check_result import failed, passed

NAME_CALLER = 'CallerPermissions'
PIPELINE_RUN_WRITE = 'Microsoft.ContainerRegistry/registries/pipelineRuns/write'
PIPELINE_READ = 'Microsoft.ContainerRegistry/registries/{}Pipelines/read'
TRANSFER_ROLE = 'Container Registry Transfer Pipeline Contributor'
TRANSFER_ROLE_ID = 'bf94e731-3a51-4a7c-8c54-a1ab9971dfc1'

# Messages and fix commands, formatted where a rule reports them.
CALLER_MAY = 'You may read the pipeline and create pipeline runs on registry \'{}\'.'
CALLER_MAY_NOT = ("You may not {what} on registry '{registry}' (missing {actions}). An owner of the registry can "
                  "grant '{role}' (role id {role_id}); the Container Registry Data Importer role does not cover "
                  "pipelines.")
WHAT_RUN = 'create pipeline runs'
WHAT_READ = 'read the pipeline'
ASSIGN_ROLE_COMMAND = ('az role assignment create --assignee-object-id {object_id} --assignee-principal-type {kind} '
                       '--role "{role}" --scope {scope}')
ASSIGN_ROLE_BY_NAME_COMMAND = 'az role assignment create --assignee {assignee} --role "{role}" --scope {scope}'


def required_actions(kind):
    return [PIPELINE_RUN_WRITE, PIPELINE_READ.format(kind)]


def _matches(action, patterns):
    return any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in patterns or [])


def allowed(action, permissions):
    """Azure RBAC: an action is allowed when one permission entry has it in actions and not in notActions."""
    return any(_matches(action, entry.get('actions')) and not _matches(action, entry.get('notActions'))
               for entry in permissions or [] if isinstance(entry, dict))


def assign_role_command(object_id, kind_or_name, scope):
    """By object id when known (no Graph look-up needed), else by the sign-in name."""
    if object_id:
        return ASSIGN_ROLE_COMMAND.format(object_id=object_id, kind=kind_or_name, role=TRANSFER_ROLE, scope=scope)
    return ASSIGN_ROLE_BY_NAME_COMMAND.format(assignee=kind_or_name, role=TRANSFER_ROLE, scope=scope)


def caller_rule(kind, permissions, registry, registry_id,  # pylint: disable=too-many-arguments
                object_id, kind_or_name):
    missing = [action for action in required_actions(kind) if not allowed(action, permissions)]
    if not missing:
        return passed(NAME_CALLER, CALLER_MAY.format(registry))
    what = ' and '.join(w for w, a in ((WHAT_READ, PIPELINE_READ.format(kind)), (WHAT_RUN, PIPELINE_RUN_WRITE))
                        if a in missing)
    return failed(NAME_CALLER, CALLER_MAY_NOT.format(what=what, registry=registry, actions=', '.join(missing),
                                                     role=TRANSFER_ROLE, role_id=TRANSFER_ROLE_ID),
                  assign_role_command(object_id, kind_or_name, registry_id))
