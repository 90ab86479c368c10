"""Tenancy of one cloud's front: both clouds share one store, so every request is held to its own cloud's
subscription before any handler looks a resource up (a middleware, so a route added later is held too).

- A path under `/subscriptions/{id}` must name this cloud's subscription. Another one is a 404 SubscriptionNotFound:
  the two sandbox clouds are separate clouds, and one cloud's ARM does not know the other's subscriptions. (A guess
  at the closest Azure answer: real ARM says SubscriptionNotFound for a subscription it does not know, and 401
  InvalidAuthenticationTokenTenant for one it knows in another tenant.)
- Routes that take an arbitrary ARM scope (Microsoft.Authorization) answer only for scopes inside this
  subscription; at the root or any other scope they are a 403 AuthorizationFailed, what ARM answers a caller
  without elevated access (its message also covers an invalid scope).
"""
from typing import Optional

from aiohttp import web

from ..plumbing.config import CloudConfig
from ..rules.tenancy import foreign_identities, foreign_subscription, names_a_subscription
from .http_common import CALLER_CLAIMS_KEY, arm_error

SCOPE_PARAMETER = "scope"


def foreign_request_error(cloud: CloudConfig, request: web.Request) -> Optional[web.Response]:
    """The ARM error for a request that leaves this cloud's subscription, or None when it stays inside."""
    if names_a_subscription(request.path):
        foreign = foreign_subscription(cloud, request.path)
        if foreign:
            return arm_error(404, "SubscriptionNotFound", f"The subscription '{foreign}' could not be found.")
        return None
    if SCOPE_PARAMETER in request.match_info:
        # A scope route outside any subscription: the root scope or a path that is no ARM scope at all.
        return _authorization_failed(request)
    return None


def _authorization_failed(request: web.Request) -> web.Response:
    claims = request.get(CALLER_CLAIMS_KEY) or {}
    scope = "/" + request.match_info.get(SCOPE_PARAMETER, "")
    action = "Microsoft.Authorization/{}/{}".format(
        "roleDefinitions" if request.match_info.get("kind", "").lower() == "roledefinitions" else "roleAssignments",
        {"GET": "read", "HEAD": "read", "DELETE": "delete"}.get(request.method, "write"))
    return arm_error(403, "AuthorizationFailed",
                     f"The client '{claims.get('appid', '')}' with object id '{claims.get('oid', '')}' does not have "
                     f"authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. If "
                     "access was recently granted, please refresh your credentials.")


def foreign_identity_error(cloud: CloudConfig, request: web.Request,
                           identity: Optional[dict]) -> Optional[web.Response]:
    """A resource may only be given user-assigned identities of this cloud (rules/tenancy.py says why). ARM answers
    an identity the caller may not assign (here: one in another tenant) with 403 LinkedAuthorizationFailed."""
    foreign = foreign_identities(cloud, identity)
    if not foreign:
        return None
    claims = request.get(CALLER_CLAIMS_KEY) or {}
    return arm_error(403, "LinkedAuthorizationFailed",
                     f"The client '{claims.get('appid', '')}' with object id '{claims.get('oid', '')}' does not have "
                     "permission to perform action 'Microsoft.ManagedIdentity/userAssignedIdentities/assign/action' "
                     f"on the linked scope(s) '{', '.join(foreign)}' or the linked scope(s) are invalid.")


def tenancy_middleware(cloud: CloudConfig):
    @web.middleware
    async def middleware(request: web.Request, handler):
        return foreign_request_error(cloud, request) or await handler(request)
    return middleware
