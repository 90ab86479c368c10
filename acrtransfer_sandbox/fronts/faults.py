"""Faults and latency on the sandbox's fronts, as plumbing/network_conditions.py reads them from the environment.

The identity endpoints (token, OIDC metadata, /metadata/endpoints) never get a fault: az's login client does not
retry, and a lost login is not what these faults are about. Every injected fault is logged as one line
``fault injected: <kind> <front> <method> <path>`` (the path without its query) in cloud-front.log.
"""
import asyncio
import logging
import random
import socket
import struct
from typing import Callable, Optional

from aiohttp import web

from ..plumbing.network_conditions import KINDS, NetworkConditions
from .http_common import arm_error

log = logging.getLogger("acrtransfer_sandbox.faults")

RETRY_AFTER_SECONDS = "1"


class FaultInjector:
    """One seeded sequence for the whole process: which request gets which fault."""

    def __init__(self, conditions: NetworkConditions):
        self.conditions = conditions
        self._random = random.Random(conditions.seed)
        self.injected = {kind: 0 for kind in KINDS}

    def draw(self, front: str) -> Optional[str]:
        if front not in self.conditions.fronts or self._random.random() >= self.conditions.fault_rate:
            return None
        kind = self._random.choice(self.conditions.kinds)
        self.injected[kind] += 1
        return kind

    def apply(self, app: web.Application, front: str,
              is_exempt: Callable[[web.Request], bool] = lambda _request: False) -> None:
        """Put the latency and fault middleware in front of all of the app's own (before the app starts)."""
        if self.conditions.active:
            app.middlewares.insert(0, self.middleware(front, is_exempt))

    def describe(self) -> str:
        c = self.conditions
        return (f"latency {c.latency_ms} ms, faults {c.fault_rate * 100:.0f}% (seed {c.seed}) on "
                f"{','.join(c.fronts)}: {','.join(c.kinds)}")

    def reset_after_handling(self) -> bool:
        return self._random.random() < 0.5

    def middleware(self, front: str, is_exempt: Callable[[web.Request], bool]):
        conditions = self.conditions

        @web.middleware
        async def network_conditions(request: web.Request, handler):
            if conditions.latency_ms:
                await asyncio.sleep(conditions.latency_ms / 1000)
            kind = None if is_exempt(request) else self.draw(front)
            if kind is None:
                return await handler(request)
            log.warning("fault injected: %s %s %s %s", kind, front, request.method, request.path)
            if kind == "429":
                response = arm_error(429, "TooManyRequests", "The sandbox throttled this request (injected fault).")
                response.headers["Retry-After"] = RETRY_AFTER_SECONDS
                return response
            if kind in ("500", "503"):
                code = "InternalServerError" if kind == "500" else "ServiceUnavailable"
                return arm_error(int(kind), code, f"The sandbox failed this request on purpose ({kind}).")
            if kind == "slow":
                await asyncio.sleep(conditions.slow_seconds)
                return await handler(request)
            if self.reset_after_handling():
                await handler(request)
            _reset(request)
            raise web.HTTPInternalServerError()  # never written: the connection is gone
        return network_conditions


def _reset(request: web.Request) -> None:
    """Abort the connection with a TCP reset (SO_LINGER 0), as a failing load balancer does."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    transport.abort()
