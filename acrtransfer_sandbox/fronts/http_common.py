"""What every ARM-style front shares: JSON responses, ARM error bodies, token checks, normalised paths, routes."""
import re
import json
import logging
from typing import Optional

from aiohttp import web

from ..plumbing.tokens import TokenIssuer, bearer_token

log = logging.getLogger("acrtransfer_sandbox.http")

CALLER_CLAIMS_KEY = web.RequestKey("caller_claims", dict)


def json_response(body, status: int = 200, headers: Optional[dict] = None) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json",
                        charset="utf-8", headers=headers)


def arm_error(status: int, code: str, message: str) -> web.Response:
    return json_response({"error": {"code": code, "message": message}}, status=status)


def resource_not_found(resource_type: str, name: str, resource_group: str) -> web.Response:
    return arm_error(404, "ResourceNotFound",
                     f"The Resource '{resource_type}/{name}' under resource group '{resource_group}' was not found. "
                     "For more details please go to https://aka.ms/ARMResourceNotFoundFix")


def stored_or_404(store, request: web.Request, resource_type: str, resource_id: Optional[str] = None,
                  only_id: Optional[str] = None):
    """(document, None) for the resource at `resource_id` (default: the request's path), or (None, ARM's 404).
    `only_id`: both clouds share the store, so a front that serves one resource of its own cloud names it."""
    doc = store.get(resource_id or request.path)
    if doc is None or (only_id is not None and doc["id"].lower() != only_id.lower()):
        return None, resource_not_found(resource_type, request.match_info["name"], request.match_info["group"])
    return doc, None


def bearer_auth_middleware(issuer: TokenIssuer, tenant_id: str, audience: str, is_public, challenge: str):
    """Refuse requests without a token this sandbox issued for this cloud's tenant and the expected audience;
    `is_public(request)` names the few routes that answer without one."""
    @web.middleware
    async def middleware(request: web.Request, handler):
        if is_public(request):
            return await handler(request)
        token = bearer_token(request.headers.get("Authorization"))
        claims = issuer.verify(token) if token else None
        if not claims:
            reason = ("The 'Authorization' header is missing." if not token
                      else "The access token is invalid or expired.")
            return _unauthorized("AuthenticationFailed", f"Authentication failed. {reason}", challenge)
        if claims.get("tid") != tenant_id or claims.get("aud", "").rstrip("/") != audience.rstrip("/"):
            return _unauthorized("InvalidAuthenticationTokenTenant" if claims.get("tid") != tenant_id
                                 else "InvalidAuthenticationTokenAudience",
                                 "The access token was issued for another tenant or audience than this endpoint.",
                                 challenge)
        request[CALLER_CLAIMS_KEY] = claims
        return await handler(request)
    return middleware


def _unauthorized(code: str, message: str, challenge: str) -> web.Response:
    response = arm_error(401, code, message)
    response.headers["WWW-Authenticate"] = challenge
    return response


PATH_NOT_NORMALISED = ('the request path must be normalised: no "." or ".." segments, no empty segments, no encoded '
                       '"/", ".", "\\" or NUL')
_ENCODED_SEPARATORS = ("%2f", "%2e", "%5c", "%00")


def path_problem(raw_path: str) -> bool:
    """True when the raw request path is not in normal form, so that something along the way (a proxy, the upstream,
    a lookup by path) might resolve it to another path than the one routed and authorized: dot segments, empty
    segments, encoded separators or dots."""
    path = raw_path.split("?", 1)[0]
    if "\\" in path or any(encoded in path.lower() for encoded in _ENCODED_SEPARATORS):
        return True
    segments = path.split("/")[1:]
    inner = segments[:-1] if path != "/" else []   # one trailing slash (`/v2/`, `/secrets/<name>/`) is normal
    return any(segment in (".", "..") for segment in segments) or any(segment == "" for segment in inner)


def normalised_paths_middleware(refusal):
    """Refuse, before routing and authentication, every request whose path is not normalised: `refusal()` is the
    service's answer."""
    @web.middleware
    async def middleware(request: web.Request, handler):
        if path_problem(request.raw_path):
            return refusal()
        return await handler(request)
    return middleware


@web.middleware
async def access_log_middleware(request: web.Request, handler):
    """One line per request (method, path without query, status): enough to follow az --debug side by side."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        log.info("%s %s -> %s", request.method, request.path, exc.status)
        raise
    log.info("%s %s -> %s", request.method, request.path, response.status)
    return response


def ci_path(template: str) -> str:
    """An aiohttp route template whose literal segments match in any case, as ARM's do
    ('resourcegroups' and 'resourceGroups' are the same URL to ARM)."""
    parts = []
    for index, segment in enumerate(template.split("/")):
        if segment and not segment.startswith("{"):
            segment = "{_literal%d:(?i:%s)}" % (index, re.escape(segment))
        parts.append(segment)
    return "/".join(parts)
