"""`add-operator`: a second service principal in a running cloud, with a built-in role on its subscription.

The principal goes into the cloud's directory (plumbing/operators.py); its role assignment is made the way a
user would make it, through the cloud's ARM as the cloud's operator (who holds Owner on the subscription), so it
is checked and stored like any other. The answer is what `az login --service-principal` needs.
"""
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
import uuid

from ..plumbing import operators
from ..plumbing.config import ARM_AUDIENCE, CloudConfig, SandboxConfig
from ..rules.roles import BUILT_IN_ROLES, role_id_by_name
from .server import load_credentials

ASSIGNMENT_API = "2022-04-01"
UNKNOWN_ROLE = "unknown role '{}': use one of {}"
NOT_RUNNING = "the {} cloud does not answer at {} ({}): start the sandbox first (make sandbox-up)"
ASSIGNMENT_FAILED = "the role assignment was refused: {} {}"
TIMEOUT_SECONDS = 30


def add_operator(config: SandboxConfig, cloud: CloudConfig, name: str, role: str) -> dict:
    role_id = role_id_by_name(role)
    if role_id is None:
        raise RuntimeError(UNKNOWN_ROLE.format(role, ", ".join(sorted(n for n, _ in BUILT_IN_ROLES.values()))))
    context = ssl.create_default_context(cafile=str(config.ca_cert))
    token = _operator_token(config, cloud, context)
    entry, password = operators.add(operators.operators_path(config.home), cloud.name, name)
    scope = f"/subscriptions/{cloud.subscription_id}"
    body = {"properties": {"roleDefinitionId": f"{scope}/providers/Microsoft.Authorization/roleDefinitions/{role_id}",
                           "principalId": entry["objectId"], "principalType": "ServicePrincipal"}}
    url = (f"{cloud.front_url}{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
           f"?api-version={ASSIGNMENT_API}")
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="PUT",
                                     headers={"Authorization": "Bearer " + token,
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, context=context, timeout=TIMEOUT_SECONDS):
            pass
    except urllib.error.HTTPError as exc:
        raise RuntimeError(ASSIGNMENT_FAILED.format(exc.code, exc.read()[:500].decode(errors="replace"))) from None
    return {"appId": entry["appId"], "password": password, "tenant": cloud.tenant_id}


def _operator_token(config: SandboxConfig, cloud: CloudConfig, context: ssl.SSLContext) -> str:
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": cloud.client_id,
                                   "client_secret": load_credentials(config).client_secrets[cloud.name],
                                   "scope": ARM_AUDIENCE + ".default"}).encode()
    url = f"{cloud.front_url}/{cloud.tenant_id}/oauth2/v2.0/token"
    try:
        with urllib.request.urlopen(url, data=form, context=context, timeout=TIMEOUT_SECONDS) as response:
            return json.loads(response.read())["access_token"]
    except (OSError, ValueError, KeyError) as exc:
        raise RuntimeError(NOT_RUNNING.format(cloud.name, cloud.front_url, type(exc).__name__)) from None
