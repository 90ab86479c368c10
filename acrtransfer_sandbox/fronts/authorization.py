"""Microsoft.Authorization for one cloud: the built-in role definitions ACR Transfer needs, role assignments at any
scope (what `az role assignment create --assignee-object-id ... --scope ...` sends), and the caller's effective
permissions at a scope (GET {scope}/providers/Microsoft.Authorization/permissions). The roles themselves and the
check the run executor makes in ManagedIdentity mode live in rules/roles.py.
"""
import re
from typing import Optional

from aiohttp import web

from . import bodies
from ..plumbing.config import CloudConfig
from .http_common import CALLER_CLAIMS_KEY, arm_error, json_response
from ..plumbing.clock import utc_now
from ..plumbing.store import ResourceStore
from ..rules.roles import (ASSIGNMENT_TYPE, BUILT_IN_ROLES, effective_permissions, role_definition_document, role_id_of,
                           scope_covers)


def _role_name_filter(filter_text: str) -> Optional[str]:
    match = re.search(r"roleName eq '([^']*)'", filter_text, re.IGNORECASE)
    return match.group(1) if match else None


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

    @routes.get(r"/{scope:.*}/providers/{ns:(?i:Microsoft\.Authorization)}/{kind:(?i:permissions)}")
    async def list_permissions(request):
        # The caller's own effective permissions at the scope, from its assignments there or above.
        oid = request[CALLER_CLAIMS_KEY].get("oid", "")
        return json_response({"value": effective_permissions(store, oid, "/" + request.match_info["scope"])})

    @routes.put(r"/{scope:.*}/providers/{ns:(?i:Microsoft\.Authorization)}/{kind:(?i:roleAssignments)}/{name}")
    async def create_assignment(request):
        scope = "/" + request.match_info["scope"]
        if not bodies.GUID.match(request.match_info["name"]):
            return arm_error(400, "InvalidRoleAssignmentId", f"The role assignment ID '{request.match_info['name']}' "
                                                             "is not valid. The role assignment ID must be a GUID.")
        props = (await bodies.read(request, bodies.ROLE_ASSIGNMENT))["properties"]
        role_id = role_id_of(props.get("roleDefinitionId", ""))
        if role_id not in BUILT_IN_ROLES:
            return arm_error(400, "RoleDefinitionDoesNotExist",
                             f"The specified role definition with ID '{role_id}' does not exist.")
        if not bodies.GUID.match(props.get("principalId", "")):
            return arm_error(400, "InvalidPrincipalId", "A valid principal ID must be provided for role assignment: "
                                                        "properties.principalId, the principal's object id (a GUID).")
        for doc in _assignments(store):
            p = doc["properties"]
            if (p["principalId"].lower() == props["principalId"].lower() and p["scope"].lower() == scope.lower()
                    and role_id_of(p["roleDefinitionId"]) == role_id):
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
                if (scope_covers(d["properties"]["scope"], scope) or scope_covers(scope, d["properties"]["scope"]))
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
