"""Microsoft.Authorization for one cloud: the built-in role definitions ACR Transfer needs, role assignments at any
scope (what `az role assignment create --assignee-object-id ... --scope ...` sends), and the check the run
executor makes in ManagedIdentity mode.
"""
import re
from typing import Optional

from aiohttp import web

from . import bodies
from ..plumbing.config import CloudConfig
from .http_common import arm_error, json_response, utc_now
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
}
WRITE_ROLES = {"Storage Blob Data Contributor", "Storage Blob Data Owner"}
READ_ROLES = WRITE_ROLES | {"Storage Blob Data Reader"}


class StorageRoleMissing(Exception):
    """The message a ManagedIdentity run fails with when its identity has no data role on the account."""


def role_definition_document(subscription_id: str, role_id: str) -> dict:
    name, data_actions = BUILT_IN_ROLES[role_id]
    return {"id": f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role_id}",
            "name": role_id, "type": "Microsoft.Authorization/roleDefinitions",
            "properties": {"roleName": name, "type": "BuiltInRole", "description": f"Built-in role {name}.",
                           "assignableScopes": ["/"],
                           "permissions": [{"actions": [], "notActions": [], "dataActions": data_actions,
                                            "notDataActions": []}],
                           "createdOn": "2020-01-01T00:00:00.0000000Z", "updatedOn": "2020-01-01T00:00:00.0000000Z"}}


def _role_name_filter(filter_text: str) -> Optional[str]:
    match = re.search(r"roleName eq '([^']*)'", filter_text, re.IGNORECASE)
    return match.group(1) if match else None


def _role_id_of(definition_id: str) -> str:
    return definition_id.rstrip("/").rsplit("/", 1)[-1].lower()


def _scope_covers(scope: str, resource_id: str) -> bool:
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
        if props["principalId"].lower() == principal_id.lower() and _scope_covers(props["scope"], resource_id):
            role = BUILT_IN_ROLES.get(_role_id_of(props["roleDefinitionId"]))
            if role:
                names.add(role[0])
    return names


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


def build_authorization_routes(cloud: CloudConfig, store: ResourceStore) -> web.RouteTableDef:
    routes = web.RouteTableDef()

    @routes.get(r"/{scope:.*}/providers/{ns:(?i:Microsoft\.Authorization)}/{kind:(?i:roleDefinitions)}")
    async def list_role_definitions(request):
        wanted = _role_name_filter(request.query.get("$filter", ""))
        docs = [role_definition_document(cloud.subscription_id, role_id)
                for role_id, (name, _) in BUILT_IN_ROLES.items() if wanted is None or name.lower() == wanted.lower()]
        return json_response({"value": docs})

    @routes.get(r"/{scope:.*}/providers/{ns:(?i:Microsoft\.Authorization)}/{kind:(?i:roleDefinitions)}/{role_id}")
    async def get_role_definition(request):
        role_id = request.match_info["role_id"].lower()
        if role_id not in BUILT_IN_ROLES:
            return arm_error(404, "RoleDefinitionDoesNotExist", f"The specified role definition with ID '{role_id}' "
                                                                "does not exist.")
        return json_response(role_definition_document(cloud.subscription_id, role_id))

    @routes.put(r"/{scope:.*}/providers/{ns:(?i:Microsoft\.Authorization)}/{kind:(?i:roleAssignments)}/{name}")
    async def create_assignment(request):
        scope = "/" + request.match_info["scope"]
        if not bodies.GUID.match(request.match_info["name"]):
            return arm_error(400, "InvalidRoleAssignmentId", f"The role assignment ID '{request.match_info['name']}' "
                                                             "is not valid. The role assignment ID must be a GUID.")
        props = (await bodies.read(request, bodies.ROLE_ASSIGNMENT))["properties"]
        role_id = _role_id_of(props.get("roleDefinitionId", ""))
        if role_id not in BUILT_IN_ROLES:
            return arm_error(400, "RoleDefinitionDoesNotExist",
                             f"The specified role definition with ID '{role_id}' does not exist.")
        if not bodies.GUID.match(props.get("principalId", "")):
            return arm_error(400, "InvalidPrincipalId", "A valid principal ID must be provided for role assignment: "
                                                        "properties.principalId, the principal's object id (a GUID).")
        for doc in _assignments(store):
            p = doc["properties"]
            if (p["principalId"].lower() == props["principalId"].lower() and p["scope"].lower() == scope.lower()
                    and _role_id_of(p["roleDefinitionId"]) == role_id):
                if doc["name"].lower() == request.match_info["name"].lower():
                    return json_response(doc, status=200)  # the same PUT again (a retry): idempotent, as in ARM
                return arm_error(409, "RoleAssignmentExists", "The role assignment already exists. The ID of the "
                                                              f"existing role assignment is {doc['name']}.")
        name = request.match_info["name"]
        now = utc_now()
        doc = {"id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}", "name": name,
               "type": ASSIGNMENT_TYPE,
               "properties": {"roleDefinitionId": role_definition_document(cloud.subscription_id, role_id)["id"],
                              "principalId": props["principalId"],
                              "principalType": props.get("principalType", "ServicePrincipal"), "scope": scope,
                              "condition": None, "conditionVersion": None, "createdOn": now, "updatedOn": now,
                              "createdBy": cloud.operator_object_id, "updatedBy": cloud.operator_object_id,
                              "delegatedManagedIdentityResourceId": None, "description": props.get("description")}}
        store.put(doc["id"], doc)
        return json_response(doc, status=201)

    @routes.get(r"/{scope:.*}/providers/{ns:(?i:Microsoft\.Authorization)}/{kind:(?i:roleAssignments)}")
    async def list_assignments(request):
        scope = "/" + request.match_info["scope"]
        principal = re.search(r"principalId eq '([^']*)'", request.query.get("$filter", ""), re.IGNORECASE)
        docs = [d for d in _assignments(store)
                if (_scope_covers(d["properties"]["scope"], scope) or _scope_covers(scope, d["properties"]["scope"]))
                and (principal is None or d["properties"]["principalId"].lower() == principal.group(1).lower())]
        return json_response({"value": docs})

    @routes.get(r"/{scope:.*}/providers/{ns:(?i:Microsoft\.Authorization)}/{kind:(?i:roleAssignments)}/{name}")
    @routes.delete(r"/{scope:.*}/providers/{ns:(?i:Microsoft\.Authorization)}/{kind:(?i:roleAssignments)}/{name}")
    async def get_or_delete_assignment(request):
        # The assignment at this scope only: a name reached through another scope is not found, as in ARM.
        doc = store.get(f"/{request.match_info['scope']}/providers/Microsoft.Authorization/roleAssignments/"
                        f"{request.match_info['name']}")
        doc = doc if doc and doc["type"] == ASSIGNMENT_TYPE else None
        if request.method == "DELETE":
            if doc:
                store.delete(doc["id"])
            return json_response(doc, status=200) if doc else web.Response(status=204)
        return json_response(doc) if doc else arm_error(404, "RoleAssignmentNotFound",
                                                        "The role assignment does not exist.")

    return routes


def _assignments(store: ResourceStore) -> list:
    return [d for d in store.all_resources() if d["type"] == ASSIGNMENT_TYPE]
