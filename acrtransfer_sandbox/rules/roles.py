"""Roles and role assignments as the cloud keeps them: the built-in roles ACR Transfer needs, what an assignment
at a scope covers, which control-plane actions a caller may perform, and the storage data role a ManagedIdentity
run must hold."""
import re

from ..plumbing.store import ResourceStore

ASSIGNMENT_TYPE = "Microsoft.Authorization/roleAssignments"
BUILT_IN_ROLES = {
    # Role ids are Azure's own, so a role definition id copied from real Azure means the same here.
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": ("Storage Blob Data Contributor",
                                             ["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/*"]),
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": ("Storage Blob Data Owner",
                                             ["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/*"]),
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1": ("Storage Blob Data Reader",
                                             ["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"]),
    "4633458b-17de-408a-b874-0445c86b69e6": ("Key Vault Secrets User",
                                             ["Microsoft.KeyVault/vaults/secrets/getSecret/action"]),
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": ("Key Vault Secrets Officer",
                                             ["Microsoft.KeyVault/vaults/secrets/*"]),
    "00482a5a-887f-4fb3-b363-3b7fe8e74483": ("Key Vault Administrator", ["Microsoft.KeyVault/vaults/*"]),
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": ("Reader", []),
    "b24988ac-6180-42a0-ab88-20f7382dd24c": ("Contributor", []),
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": ("Owner", []),
    "bf94e731-3a51-4a7c-8c54-a1ab9971dfc1": ("Container Registry Transfer Pipeline Contributor", []),
}
# Control-plane actions and notActions of the roles above (Azure's built-in definitions as documented in the
# built-in roles reference; the Contributor notActions list is abridged to its Authorization entries and the
# Transfer Pipeline Contributor's is recalled from that reference, not checked against a live definition).
ROLE_ACTIONS = {
    "Owner": (["*"], []),
    "Contributor": (["*"], ["Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write",
                            "Microsoft.Authorization/elevateAccess/Action"]),
    "Reader": (["*/read"], []),
    "Container Registry Transfer Pipeline Contributor": (
        ["Microsoft.ContainerRegistry/registries/importPipelines/*",
         "Microsoft.ContainerRegistry/registries/exportPipelines/*",
         "Microsoft.ContainerRegistry/registries/pipelineRuns/*", "Microsoft.Authorization/*/read",
         "Microsoft.Resources/subscriptions/resourceGroups/read", "Microsoft.Resources/deployments/*"], []),
    "Storage Blob Data Contributor": (["Microsoft.Storage/storageAccounts/blobServices/containers/*",
                                       "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/"
                                       "action"], []),
    "Storage Blob Data Owner": (["Microsoft.Storage/storageAccounts/blobServices/containers/*",
                                 "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action"],
                                []),
    "Storage Blob Data Reader": (["Microsoft.Storage/storageAccounts/blobServices/containers/read",
                                  "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action"],
                                 []),
    "Key Vault Administrator": (["Microsoft.Authorization/*/read", "Microsoft.KeyVault/checkNameAvailability/read",
                                 "Microsoft.KeyVault/deletedVaults/read", "Microsoft.KeyVault/locations/*/read",
                                 "Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/operations/read"], []),
}
OWNER_ROLE_ID = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
WRITE_ROLES = {"Storage Blob Data Contributor", "Storage Blob Data Owner"}
READ_ROLES = WRITE_ROLES | {"Storage Blob Data Reader"}


class StorageRoleMissing(Exception):
    """The message a ManagedIdentity run fails with when its identity has no data role on the account."""


def role_id_by_name(name: str):
    """The built-in role id of a role name (case-insensitive), or None."""
    return next((role_id for role_id, (role_name, _) in BUILT_IN_ROLES.items()
                 if role_name.lower() == name.lower()), None)


def role_permissions(role_id: str) -> dict:
    """The role's permissions entry, as a role definition and the permissions API show it."""
    name, data_actions = BUILT_IN_ROLES[role_id]
    actions, not_actions = ROLE_ACTIONS.get(name, ([], []))
    return {"actions": list(actions), "notActions": list(not_actions), "dataActions": list(data_actions),
            "notDataActions": []}


def role_definition_document(subscription_id: str, role_id: str) -> dict:
    name, _ = BUILT_IN_ROLES[role_id]
    return {"id": f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role_id}",
            "name": role_id, "type": "Microsoft.Authorization/roleDefinitions",
            "properties": {"roleName": name, "type": "BuiltInRole", "description": f"Built-in role {name}.",
                           "assignableScopes": ["/"],
                           "permissions": [role_permissions(role_id)],
                           "createdOn": "2020-01-01T00:00:00.0000000Z", "updatedOn": "2020-01-01T00:00:00.0000000Z"}}


def role_id_of(definition_id: str) -> str:
    return definition_id.rstrip("/").rsplit("/", 1)[-1].lower()


def scope_covers(scope: str, resource_id: str) -> bool:
    scope, resource_id = scope.rstrip("/").lower(), resource_id.rstrip("/").lower()
    return scope in ("", "/") or resource_id == scope or resource_id.startswith(scope + "/") \
        or scope.startswith(resource_id + "/blobservices/")


def assigned_role_names(store: ResourceStore, principal_id: str, resource_id: str) -> set:
    """The names of the roles `principal_id` holds on `resource_id` (directly, from a parent or on a container)."""
    names = set()
    for doc in store.all_resources():
        if doc["type"] != ASSIGNMENT_TYPE:
            continue
        props = doc["properties"]
        if props["principalId"].lower() == principal_id.lower() and scope_covers(props["scope"], resource_id):
            role = BUILT_IN_ROLES.get(role_id_of(props["roleDefinitionId"]))
            if role:
                names.add(role[0])
    return names


def scope_at_or_above(assignment_scope: str, scope: str) -> bool:
    """True when an assignment at `assignment_scope` applies at `scope` (the same scope or a parent of it)."""
    assignment_scope, scope = assignment_scope.rstrip("/").lower(), scope.rstrip("/").lower()
    return assignment_scope in ("", "/") or scope == assignment_scope or scope.startswith(assignment_scope + "/")


def effective_permissions(store: ResourceStore, principal_id: str, scope: str) -> list:
    """What ARM's Microsoft.Authorization/permissions answers at `scope`: one entry per role assignment of the
    principal at that scope or above."""
    entries = []
    for doc in store.all_resources():
        if doc["type"] != ASSIGNMENT_TYPE:
            continue
        props = doc["properties"]
        role_id = role_id_of(props["roleDefinitionId"])
        if props["principalId"].lower() == principal_id.lower() and role_id in BUILT_IN_ROLES \
                and scope_at_or_above(props["scope"], scope):
            entries.append(role_permissions(role_id))
    return entries


# ARM's 403 when the caller's role assignments do not allow the action (its wording, ids filled in).
AUTHORIZATION_FAILED = ("The client '{principal}' with object id '{principal}' does not have authorization to perform "
                        "action '{action}' over scope '{scope}' or the scope is invalid. If access was recently "
                        "granted, please refresh your credentials.")


def _action_pattern(pattern: str):
    # RBAC wildcards: '*' stands for any run of characters (segments included); matching ignores case.
    return re.compile("^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$", re.IGNORECASE)


def allows(entries: list, action: str) -> bool:
    """Whether permissions `entries` (effective_permissions' answer) allow control-plane `action`: some entry lists
    it in actions and not in its own notActions (notActions subtract within their role only, as in Azure)."""
    def matches(patterns):
        return any(_action_pattern(pattern).match(action) for pattern in patterns)
    return any(matches(entry["actions"]) and not matches(entry["notActions"]) for entry in entries)


def authorization_failure(store: ResourceStore, principal_id: str, scope: str, action: str):
    """ARM's AuthorizationFailed message when `principal_id` may not perform `action` at `scope`, else None."""
    if allows(effective_permissions(store, principal_id, scope), action):
        return None
    return AUTHORIZATION_FAILED.format(principal=principal_id, action=action, scope=scope)


def owner_assignment(subscription_id: str, principal_id: str, name: str, created: str) -> dict:
    """The Owner assignment on the subscription a cloud's operator holds (it created the cloud's resources)."""
    scope = f"/subscriptions/{subscription_id}"
    return {"id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}", "name": name,
            "type": ASSIGNMENT_TYPE,
            "properties": {"roleDefinitionId": f"{scope}/providers/Microsoft.Authorization/roleDefinitions/"
                                               f"{OWNER_ROLE_ID}",
                           "principalId": principal_id, "principalType": "ServicePrincipal", "scope": scope,
                           "condition": None, "conditionVersion": None, "createdOn": created, "updatedOn": created,
                           "createdBy": None, "updatedBy": None, "delegatedManagedIdentityResourceId": None,
                           "description": "The sandbox operator: owner of the cloud's subscription"}}


def require_storage_role(store: ResourceStore, principal_id: str, account_id: str, needs_write: bool) -> None:
    wanted = WRITE_ROLES if needs_write else READ_ROLES
    if assigned_role_names(store, principal_id, account_id) & wanted:
        return
    role = "Storage Blob Data Contributor" if needs_write else "Storage Blob Data Reader"
    account = account_id.rstrip("/").rsplit("/", 1)[-1]
    raise StorageRoleMissing(
        "Storage request failed: 403 (AuthorizationPermissionMismatch) This request is not authorized to perform "
        f"this operation using this permission. The pipeline's managed identity (principal {principal_id}) has "
        f"no '{role}' role assignment on storage account '{account}' (scope {account_id}).")
