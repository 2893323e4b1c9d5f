"""The request pipeline's stages, in the order a request passes them.

A capability joins the request path as a hook that declares the stage its
``before_*`` step belongs to (and, for ``on_complete``, the stage it settles or
observes in). The service runs the stages it owns itself (authorise, call), and
the pipeline puts hooks in stage order and refuses a hook that claims one of
those or no stage at all, when the config loads rather than on a request.
"""

from __future__ import annotations

from enum import IntEnum


class Stage(IntEnum):
    RESOLVE = 10  # prompt references -> route, variables
    AUTHORISE = 20  # the service: may this app use the resolved route (once)
    ENRICH = 30  # retrieval adds context
    SCREEN = 40  # PII, injection, residency on everything that will leave the mesh
    ADMIT = 50  # rate limits, budget reservation, cache
    CALL = 60  # the service: routing, failover, stream failover
    TRANSFORM_OUTPUT = 70  # guardrails, placeholder restore
    SETTLE = 80  # one price, budgets and counters settled, ledger
    OBSERVE = 90  # request log, audit, metrics, experiment outcomes


# Stages the service runs itself; no hook may claim them.
SERVICE_STAGES = frozenset({Stage.AUTHORISE, Stage.CALL})
# Stages a hook's before_* step may run in. OBSERVE runs last, so an observer (the audit
# trail) sees the request exactly as it goes to the call stage and the answer exactly as
# the call stage returned it.
REQUEST_STAGES = frozenset({Stage.RESOLVE, Stage.ENRICH, Stage.SCREEN, Stage.ADMIT, Stage.OBSERVE})
# Stages a hook's on_complete may run in (after the call).
COMPLETION_STAGES = frozenset({Stage.SETTLE, Stage.OBSERVE})
