"""An optional record of every response body the front serves for the three ACR Transfer resource types.

Turned on with ACRSANDBOX_RESPONSE_LOG=<file>: one JSON line per response (method, path, status, body), so tests
can hold everything the sandbox answered against the official API spec. Pipeline and run documents carry no
secrets (Key Vault URIs only), and no other route is recorded.
"""
import json
import re
from pathlib import Path

from aiohttp import web

RECORDED_PATH_RE = re.compile(r"/registries/[^/]+/(exportpipelines|importpipelines|pipelineruns)(/[^/]+)?/?$",
                              re.IGNORECASE)


def response_log_middleware(log_file: Path):
    @web.middleware
    async def middleware(request: web.Request, handler):
        response = await handler(request)
        if RECORDED_PATH_RE.search(request.path) and isinstance(response, web.Response) and response.text:
            try:
                body = json.loads(response.text)
            except ValueError:
                body = response.text
            entry = {"method": request.method, "path": request.path, "status": response.status, "body": body}
            with open(log_file, "a", encoding="utf-8") as stream:
                stream.write(json.dumps(entry) + "\n")
        return response
    return middleware
