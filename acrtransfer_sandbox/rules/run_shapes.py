"""How a pipeline run's lifecycle shows on the wire: the sandbox switch ACRSANDBOX_RUN_SHAPE=default|spec.

Both shapes run the same transfer (the run executor); they differ only in what the run and its async operation say
while it goes and after it ends:

- ``default`` (the sandbox's lifecycle since its first release): provisioningState is Creating (Updating for a
  rerun) while the run transfers and turns Succeeded or Failed with ``response.status``; the PUT's
  Azure-AsyncOperation stays InProgress until the run ends and then carries its outcome (Failed with the run's
  pipelineRunErrorMessage as its error).
- ``spec`` (the API spec's own examples, ../shared/spec/examples/PipelineRunCreate_Export.json and
  PipelineRunGet.json): the PUT answers 201 with provisioningState Succeeded, ``response.status`` Running and a
  string ``progress.percentage``; its operation is Succeeded at once. Only later GETs of the run show it move on:
  ``response.status`` turns Succeeded, or Failed with pipelineRunErrorMessage, while provisioningState stays
  Succeeded. (Guess: that the service's operation is already Succeeded when the PUT answers; the spec declares
  final-state-via azure-async-operation and shows provisioningState Succeeded beside a Running run.)

A run is in progress, in either shape, while ``response.status`` is Running and provisioningState has not failed,
been canceled or begun a deletion: this module is the one place the sandbox decides it.
"""
from typing import Optional

from ..plumbing.config import DEFAULT_RUN_SHAPE

TERMINAL_RUN_STATES = frozenset({"Succeeded", "Failed", "Canceled"})
# A provisioningState that ends the run whatever response.status says (Deleting: only a finished run is deleted).
PROVISIONING_ENDS_RUN = frozenset({"Failed", "Canceled", "Deleting"})
OPERATION_IN_PROGRESS = "InProgress"


class RunShape:
    """The lifecycle facts of one shape; `provisioning_follows_run` is what tells the two apart."""

    def __init__(self, name: str, provisioning_follows_run: bool):
        self.name = name
        self.provisioning_follows_run = provisioning_follows_run

    @property
    def operation_done_at_start(self) -> bool:
        """True when the PUT's async operation is finished as soon as the run is accepted."""
        return not self.provisioning_follows_run

    def provisioning_state_at_start(self, rerun: bool) -> str:
        if not self.provisioning_follows_run:
            return "Succeeded"
        return "Updating" if rerun else "Creating"

    def provisioning_state_at_end(self, failed: bool) -> str:
        if not self.provisioning_follows_run:
            return "Succeeded"
        return "Failed" if failed else "Succeeded"


# One entry per name in config.RUN_SHAPES (the setting's accepted values).
SHAPES = {"default": RunShape("default", provisioning_follows_run=True),
          "spec": RunShape("spec", provisioning_follows_run=False)}


def run_shape_named(name: Optional[str]) -> RunShape:
    """The shape the setting names (config.py has already refused any other name)."""
    return SHAPES[name or DEFAULT_RUN_SHAPE]


def run_in_progress(run: dict) -> bool:
    """True while the run is still transferring, in either shape."""
    properties = run.get("properties") or {}
    status = (properties.get("response") or {}).get("status")
    if properties.get("provisioningState") in PROVISIONING_ENDS_RUN:
        return False
    if status is None:  # a run with no response yet is judged by its provisioningState alone
        return properties.get("provisioningState") not in TERMINAL_RUN_STATES
    return status not in TERMINAL_RUN_STATES


def operation_status(run: dict) -> str:
    """What the run's async operation says now: InProgress until its provisioningState is terminal, then that
    state (in the spec shape, Succeeded from the start)."""
    state = (run.get("properties") or {}).get("provisioningState", "Failed")
    return state if state in TERMINAL_RUN_STATES else OPERATION_IN_PROGRESS
