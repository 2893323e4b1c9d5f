"""Discrete-event replay of a request trace against a deployment: cost and goal attainment.

Each copy is a continuous-batching server (as vLLM and TGI run): at every step it admits
waiting requests while its KV budget holds their whole context (prompt + completion, so
no preemption) and the batch stays under MAX_BATCH, then runs one step that prefills the
admitted prompts and decodes one token for every running sequence. A step takes
    decode  = (weights + KV of every running sequence's current context) / (tp x bandwidth x efficiency)
    prefill = 2 x parameters x admitted prompt tokens / (tp x FLOP/s x compute efficiency)
(the planner's roofline figures, throughput.py, but per step with the real batch and
context instead of means). Copies sharing a GPU queue their steps at it first come, first
served, so a neighbour's step delays one's own. A request arriving for a model goes to
its copy with the fewest requests running or waiting.

A request meets its goal when its time to first token is within the model's
``ttft_p95_ms`` and its mean time per output token after the first within
``per_token_p95_ms``; goal attainment is the share of requests that do.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from dataclasses import dataclass, field

from llm_mesh.fleet.config import FleetSection
from llm_mesh.fleet.deployment import Deployment, SimCopy
from llm_mesh.fleet.throughput import GB, MAX_BATCH, kv_bytes_per_token, parameters, weights_bytes
from llm_mesh.fleet.trace import TraceRequest


@dataclass
class _Seq:
    request: TraceRequest
    done: int = 0  # tokens produced
    first_s: float | None = None
    last_s: float = 0.0


@dataclass
class _Copy:
    spec: SimCopy
    weights: float
    kv: float  # bytes per token of context
    prefill_s_per_token: float
    decode_bytes_per_s: float
    running: list[_Seq] = field(default_factory=list)
    waiting: deque[_Seq] = field(default_factory=deque)
    reserved: float = 0.0  # KV bytes held by the running sequences' whole contexts
    queued: bool = False  # has a step queued or in flight at its executor

    def load(self) -> int:
        return len(self.running) + len(self.waiting)

    def admit(self) -> list[_Seq]:
        admitted = []
        while self.waiting and len(self.running) < MAX_BATCH:
            seq = self.waiting[0]
            need = (seq.request.prompt_tokens + seq.request.completion_tokens) * self.kv
            if self.running and self.weights + self.reserved + need > self.spec.memory_bytes:
                break  # an empty copy takes the head of the queue whatever its size
            self.waiting.popleft()
            self.reserved += need
            self.running.append(seq)
            admitted.append(seq)
        return admitted

    def step_s(self, admitted: list[_Seq]) -> float:
        context = sum(s.request.prompt_tokens + s.done for s in self.running)
        prompts = sum(s.request.prompt_tokens for s in admitted)
        return (self.weights + context * self.kv) / self.decode_bytes_per_s + prompts * self.prefill_s_per_token


@dataclass
class _Executor:
    queue: deque[_Copy] = field(default_factory=deque)
    busy: bool = False
    busy_s: float = 0.0


def _build(deployment: Deployment, fleet: FleetSection) -> tuple[dict[str, list[_Copy]], dict[tuple, _Executor]]:
    by_model: dict[str, list[_Copy]] = {}
    executors: dict[tuple, _Executor] = {}
    for copy in deployment.copies:
        model = fleet.models[copy.model]
        spec = copy.spec
        state = _Copy(copy, weights_bytes(model), kv_bytes_per_token(model),
                      2 * parameters(model) / (copy.tp * spec.fp16_tflops * 1e12 * fleet.compute_efficiency),
                      copy.tp * spec.bandwidth_gb_s * GB * fleet.bandwidth_efficiency)
        by_model.setdefault(copy.model, []).append(state)
        executors.setdefault(copy.executor, _Executor())
    return by_model, executors


class _Engine:
    def __init__(self, deployment: Deployment, fleet: FleetSection) -> None:
        self.by_model, self.executors = _build(deployment, fleet)
        self.events: list = []
        self.order = itertools.count()
        self.finished: list[_Seq] = []
        self.dropped: list[TraceRequest] = []

    def run(self, trace: list[TraceRequest]) -> float:
        for request in trace:
            heapq.heappush(self.events, (request.arrival_s, next(self.order), "arrive", request))
        now = 0.0
        while self.events:
            now, _, kind, payload = heapq.heappop(self.events)
            if kind == "arrive":
                self._arrive(payload)
            else:
                self._step_done(now, *payload)
        return now

    def _arrive(self, request: TraceRequest) -> None:
        copies = self.by_model.get(request.model)
        if not copies:
            self.dropped.append(request)  # no copy deployed (a scaled-to-zero model): not served
            return
        copy = min(copies, key=_Copy.load)
        copy.waiting.append(_Seq(request))
        self._wake(copy, request.arrival_s)

    def _wake(self, copy: _Copy, now: float) -> None:
        if copy.queued or not copy.load():
            return
        copy.queued = True
        executor = self.executors[copy.spec.executor]
        executor.queue.append(copy)
        self._start(executor, now)

    def _start(self, executor: _Executor, now: float) -> None:
        if executor.busy or not executor.queue:
            return
        copy = executor.queue.popleft()
        admitted = copy.admit()
        duration = copy.step_s(admitted)
        executor.busy, executor.busy_s = True, executor.busy_s + duration
        heapq.heappush(self.events, (now + duration, next(self.order), "step", (executor, copy)))

    def _step_done(self, now: float, executor: _Executor, copy: _Copy) -> None:
        still = []
        for seq in copy.running:
            seq.done += 1
            seq.first_s = now if seq.first_s is None else seq.first_s
            seq.last_s = now
            if seq.done >= seq.request.completion_tokens:
                copy.reserved -= (seq.request.prompt_tokens + seq.request.completion_tokens) * copy.kv
                self.finished.append(seq)
            else:
                still.append(seq)
        copy.running = still
        executor.busy, copy.queued = False, False
        self._wake(copy, now)
        self._start(executor, now)


@dataclass(frozen=True)
class ModelResult:
    requests: int
    met: int
    ttft_p95_ms: float
    per_token_p95_ms: float


@dataclass(frozen=True)
class SimulationResult:
    name: str
    cost_per_hour: float
    instances: dict[str, int]
    requests: int
    met: int
    unserved: int
    makespan_s: float
    models: dict[str, ModelResult]

    @property
    def goal_attainment(self) -> float:
        return self.met / self.requests if self.requests else 1.0


def simulate(deployment: Deployment, fleet: FleetSection, trace: list[TraceRequest]) -> SimulationResult:
    engine = _Engine(deployment, fleet)
    makespan = engine.run(trace)
    per_model: dict[str, list[tuple[float, float]]] = {}
    for seq in engine.finished:
        ttft = (seq.first_s or 0.0) - seq.request.arrival_s
        per_token = (seq.last_s - (seq.first_s or 0.0)) / max(1, seq.request.completion_tokens - 1)
        per_model.setdefault(seq.request.model, []).append((ttft, per_token))
    models = {}
    for name in sorted({r.model for r in trace}):
        goal, samples = fleet.models[name].latency, per_model.get(name, [])
        met = sum(ttft * 1000 <= goal.ttft_p95_ms and tpt * 1000 <= goal.per_token_p95_ms for ttft, tpt in samples)
        models[name] = ModelResult(sum(r.model == name for r in trace), met,
                                   round(1000 * _p95([s[0] for s in samples]), 1),
                                   round(1000 * _p95([s[1] for s in samples]), 2))
    return SimulationResult(deployment.name, deployment.cost_per_hour, deployment.instances, len(trace),
                            sum(m.met for m in models.values()), len(engine.dropped), round(makespan, 3), models)


def _p95(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
