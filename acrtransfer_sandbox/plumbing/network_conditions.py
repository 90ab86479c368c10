"""The network conditions the fronts impose, as the sandbox process reads them from its environment: added latency,
and faults injected at a given rate with a seed (fronts/faults.py injects them).

Settings (environment of the sandbox process, read once at start):
- ``ACRSANDBOX_LATENCY_MS``: every request on every front waits this long before it is handled (default 0).
- ``ACRSANDBOX_FAULT_RATE``: the share of requests that get a fault, 0..1 (default 0: none).
- ``ACRSANDBOX_FAULT_SEED``: the seed of the fault sequence (default 0), so a failure can be replayed.
- ``ACRSANDBOX_FAULT_FRONTS``: which fronts, comma-separated from ``arm``, ``keyvault``, ``registry`` (default all).
- ``ACRSANDBOX_FAULT_KINDS``: which faults, from ``429`` (with Retry-After), ``500``, ``503``, ``reset`` (the
  connection is reset before or after the request is handled: in the second case the answer is lost although
  the request took effect), ``slow`` (the answer comes ``ACRSANDBOX_FAULT_SLOW_SECONDS`` late, default 3).
"""
import os
from dataclasses import dataclass
from typing import Optional, Tuple

FRONTS = ("arm", "keyvault", "registry")
KINDS = ("429", "500", "503", "reset", "slow")
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
