"""Network conditions on the sandbox's fronts: added latency, and faults injected at a given rate with a seed.

Settings (environment of the sandbox process, read once at start):
- ``ACRSANDBOX_LATENCY_MS``: every request on every front waits this long before it is handled (default 0).
- ``ACRSANDBOX_FAULT_RATE``: the share of requests that get a fault, 0..1 (default 0: none).
- ``ACRSANDBOX_FAULT_SEED``: the seed of the fault sequence (default 0), so a failure can be replayed.
- ``ACRSANDBOX_FAULT_FRONTS``: which fronts, comma-separated from ``arm``, ``keyvault``, ``registry`` (default all).
- ``ACRSANDBOX_FAULT_KINDS``: which faults, from ``429`` (with Retry-After), ``500``, ``503``, ``reset`` (the
  connection is reset before or after the request is handled: in the second case the answer is lost although
  the request took effect), ``slow`` (the answer comes ``ACRSANDBOX_FAULT_SLOW_SECONDS`` late, default 3).

The identity endpoints (token, OIDC metadata, /metadata/endpoints) never get a fault: az's login client does not
retry, and a lost login is not what these faults are about. Every injected fault is logged as one line
``fault injected: <kind> <front> <method> <path>`` (the path without its query) in cloud-front.log.
"""
import asyncio
import logging
import os
import random
import socket
import struct
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

from aiohttp import web

from .http_common import arm_error

log = logging.getLogger("acrtransfer_sandbox.faults")

FRONTS = ("arm", "keyvault", "registry")
KINDS = ("429", "500", "503", "reset", "slow")
RETRY_AFTER_SECONDS = "1"
DEFAULT_SLOW_SECONDS = 3.0


@dataclass(frozen=True)
class NetworkConditions:
    latency_ms: int = 0
    fault_rate: float = 0.0
    seed: int = 0
    fronts: Tuple[str, ...] = FRONTS
    kinds: Tuple[str, ...] = KINDS
    slow_seconds: float = DEFAULT_SLOW_SECONDS

    @classmethod
    def from_environment(cls, environ=None) -> "NetworkConditions":
        env = os.environ if environ is None else environ
        conditions = cls(latency_ms=int(env.get("ACRSANDBOX_LATENCY_MS", "0") or 0),
                         fault_rate=float(env.get("ACRSANDBOX_FAULT_RATE", "0") or 0),
                         seed=int(env.get("ACRSANDBOX_FAULT_SEED", "0") or 0),
                         fronts=_names(env.get("ACRSANDBOX_FAULT_FRONTS"), FRONTS),
                         kinds=_names(env.get("ACRSANDBOX_FAULT_KINDS"), KINDS),
                         slow_seconds=float(env.get("ACRSANDBOX_FAULT_SLOW_SECONDS", DEFAULT_SLOW_SECONDS)))
        if not 0 <= conditions.fault_rate <= 1 or conditions.latency_ms < 0:
            raise ValueError("ACRSANDBOX_FAULT_RATE must be within 0..1 and ACRSANDBOX_LATENCY_MS not negative")
        return conditions

    @property
    def active(self) -> bool:
        return self.latency_ms > 0 or self.fault_rate > 0


def _names(value: Optional[str], allowed: Tuple[str, ...]) -> Tuple[str, ...]:
    if not value:
        return allowed
    names = tuple(name.strip().lower() for name in value.split(",") if name.strip())
    unknown = [name for name in names if name not in allowed]
    if unknown:
        raise ValueError(f"unknown value(s) {unknown}; allowed: {', '.join(allowed)}")
    return names


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
