"""The audit hook: one tamper-evident record per request, appended last.

``on_complete`` turns the request's context into an :class:`AuditDraft` — who
(app, principal), the purpose tag, route, provider, model, every value-free
decision the hooks recorded (policy counts, blocks, guardrail verdicts, injection
signals), tokens, cost (when the cost hook set it), latency, status and the config
version (sha256 of the config JSON) — and hands it to a writer. Locally a single
background thread appends (the chain needs one order per partition, and the
request path only pays a deque append); on Lambda the append is inline, before
the invocation ends.

Payloads (the request as it left the mesh, i.e. after redaction, and the answer as
the model gave it, before placeholders were restored)
are kept only when ``governance.audit.payloads`` is true (optionally only for some
policies), encrypted with a Fernet key from an environment variable locally or a
KMS key on AWS (:mod:`llm_mesh.aws.kms`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Protocol

from llm_mesh.audit.anchors import Anchorer, default_anchor_sink
from llm_mesh.audit.chain import daily_partition
from llm_mesh.audit.writers import BackgroundAuditWriter, InlineAuditWriter, emf_failure_metric
from llm_mesh.gateway.context import RequestContext
from llm_mesh.gateway.hooks import BaseHook, Outcome
from llm_mesh.gateway.stages import Stage
from llm_mesh.policy.governance import AuditConfig, PayloadKey, governance_of
from llm_mesh.stores.interfaces import AuditDraft, AuditStore
from llm_mesh.wire.openai_chat import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest

logger = logging.getLogger("llm_mesh.audit")

@dataclass(slots=True)
class AuditCapture:
    """What the audit stage keeps of one request for its encrypted payload (``ctx.audit_capture``)."""

    request: ChatCompletionRequest
    answer: ChatCompletion | None = None
    streamed: list[str] | None = None


def config_version(config: Any) -> str:
    return hashlib.sha256(config.model_dump_json().encode()).hexdigest()


# ----------------------------------------------------------------------------- payload ciphers


class PayloadCipher(Protocol):
    def encrypt(self, plaintext: bytes) -> str: ...

    def decrypt(self, token: str) -> bytes: ...


class FernetPayloadCipher:
    """Local payload encryption: a Fernet key (``Fernet.generate_key()``) from an env var."""

    PREFIX = "fernet1:"

    def __init__(self, key: str | bytes) -> None:
        from cryptography.fernet import Fernet

        self._fernet = Fernet(key)

    def encrypt(self, plaintext: bytes) -> str:
        return self.PREFIX + self._fernet.encrypt(plaintext).decode()

    def decrypt(self, token: str) -> bytes:
        if not token.startswith(self.PREFIX):
            raise ValueError("not a Fernet-encrypted payload")
        return self._fernet.decrypt(token[len(self.PREFIX):].encode())


def build_cipher(key: PayloadKey, environ: Any = None) -> PayloadCipher:
    if key.kms_key_id:
        from llm_mesh.aws.kms import KmsPayloadCipher

        return KmsPayloadCipher(key.kms_key_id)
    value = (environ if environ is not None else os.environ).get(key.env or "")
    if not value:
        raise ValueError(f"audit payload key: environment variable {key.env} is not set")
    return FernetPayloadCipher(value)


# ----------------------------------------------------------------------------- the hook


def _json_safe(value: Any) -> Any:
    try:
        json.dumps(value, allow_nan=False)
        return value
    except (TypeError, ValueError):
        return json.loads(json.dumps(value, default=str))


@dataclass
class AuditHook(BaseHook):
    config: Any
    cfg: AuditConfig
    writer: Any
    cipher: PayloadCipher | None = None
    version: str = ""
    name: str = "audit"
    stage: Stage = Stage.OBSERVE  # last: sees the request as it leaves and the answer as it came
    _clock: Any = field(default=time.time)

    def _wants_payload(self, ctx: RequestContext) -> bool:
        if self.cipher is None or not self.cfg.payloads:
            return False
        if self.cfg.payload_policies is None:
            return True
        applied = str((ctx.decisions.get("policy") or {}).get("policy", "")).split("+")
        return any(p in applied for p in self.cfg.payload_policies)

    async def before_chat(self, ctx: RequestContext, request: ChatCompletionRequest) -> ChatCompletionRequest | ChatCompletion:
        if self._wants_payload(ctx):  # last hook: this is what leaves the mesh (after redaction)
            ctx.audit_capture = AuditCapture(request)
        return request

    async def after_chat(self, ctx: RequestContext, request: ChatCompletionRequest, completion: ChatCompletion) -> ChatCompletion:
        if ctx.audit_capture is not None:  # innermost: the answer as the model gave it
            ctx.audit_capture.answer = completion
        return completion

    def wrap_stream(
        self, ctx: RequestContext, request: ChatCompletionRequest, chunks: AsyncIterator[ChatCompletionChunk]
    ) -> AsyncIterator[ChatCompletionChunk]:
        if ctx.audit_capture is None:
            return chunks
        return self._collect(ctx, chunks)

    async def _collect(self, ctx: RequestContext, chunks: AsyncIterator[ChatCompletionChunk]) -> AsyncIterator[ChatCompletionChunk]:
        parts: list[str] = []
        ctx.audit_capture.streamed = parts
        async for chunk in chunks:
            for choice in chunk.choices:
                if choice.delta.content:
                    parts.append(choice.delta.content)
            yield chunk

    def _payload(self, ctx: RequestContext, outcome: Outcome) -> str | None:
        capture = ctx.audit_capture
        if capture is None or self.cipher is None:
            return None
        request = capture.request
        body: dict[str, Any] = {"request": request.model_dump(mode="json", exclude_none=True)}
        answer = capture.answer or outcome.completion
        if answer is not None:
            body["response"] = answer.model_dump(mode="json", exclude_none=True)
        elif (parts := capture.streamed) is not None:
            body["response"] = {"streamed_text": "".join(parts)}
        raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False)[: self.cfg.max_payload_chars]
        return self.cipher.encrypt(raw.encode())

    def draft(self, ctx: RequestContext, outcome: Outcome) -> AuditDraft:
        caller = ctx.caller
        app = caller.app if caller else "-"
        usage = outcome.usage
        decisions = dict(ctx.decisions)
        if outcome.error is not None:
            decisions["error"] = outcome.error.code or outcome.error.type
        if outcome.served_from_cache:
            decisions["served_from_cache"] = True
        if ctx.classifications:
            decisions["classifications"] = sorted(ctx.classifications)
        cost = f"{ctx.cost_usd:f}" if ctx.cost_usd is not None else (decisions.get("cost_usd") or "0")
        ts = ctx.received_at
        return AuditDraft(
            partition=daily_partition(app, ts) if self.cfg.partition == "daily" else app,
            record_id=ctx.request_id,
            timestamp=ts,
            app=app,
            principal=caller.principal if caller else "-",
            purpose=ctx.tags.get("purpose"),
            route=ctx.route or "-",
            provider=ctx.provider or "-",
            model=ctx.model or "-",
            endpoint=ctx.endpoint,
            status=outcome.status,
            decisions=_json_safe(decisions),
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            cost_usd=str(cost),
            latency_ms=round(ctx.elapsed_ms(), 3),
            config_version=self.version,
            payload=self._payload(ctx, outcome),
        )

    def on_complete(self, ctx: RequestContext, outcome: Outcome) -> None:
        self.writer.write(self.draft(ctx, outcome))

    def completion_waits(self, ctx: RequestContext) -> bool:
        return not getattr(self.writer, "deferred", False)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()


def audit_hook(context: Any) -> AuditHook | None:
    """HOOK_FACTORIES entry (last). The audit trail is on by default whenever the store
    bundle has an audit store; ``governance.audit.enabled: false`` turns it off."""
    cfg = governance_of(context.config).audit or AuditConfig()
    store = getattr(context.stores, "audit", None)
    if not cfg.enabled:
        return None
    if store is None:
        logger.warning("this store bundle has no audit store; the audit trail is off")
        return None
    cipher = context.extras.get("audit_cipher")
    if cipher is None and cfg.payloads and cfg.payload_key is not None:
        cipher = build_cipher(cfg.payload_key)
    writer = _writer(store, context.home)
    return AuditHook(config=context.config, cfg=cfg, writer=writer, cipher=cipher, version=config_version(context.config))


def _writer(store: AuditStore, home: str) -> InlineAuditWriter:
    """Locally: background batches, anchors and spills in the data directory. On AWS: inline
    appends, anchors to the Object Lock bucket, spills in /tmp, failures as an EMF metric."""
    data_dir = getattr(store, "data_dir", None)
    sink = default_anchor_sink(data_dir)
    # 0: anchor after every batch (every append inline); more trades S3 puts for a window in
    # which a key holder could re-seal the newest records unseen.
    interval_s = float(os.environ.get("MESH_AUDIT_ANCHOR_INTERVAL_S") or 0)
    anchorer = Anchorer(sink, interval_s) if sink is not None else None
    if home == "local":
        journal_dir = Path(data_dir) / "journal" if data_dir is not None else None
        return BackgroundAuditWriter(store, anchorer, spill_dir=data_dir, journal_dir=journal_dir)
    spill_dir = os.environ.get("MESH_AUDIT_SPILL_DIR") or os.path.join(tempfile.gettempdir(), "mesh-audit-spill")
    return InlineAuditWriter(store, anchorer, spill_dir=spill_dir, on_failure=emf_failure_metric)
