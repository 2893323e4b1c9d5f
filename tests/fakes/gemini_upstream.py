"""A loopback fake of Google's Gemini API and Vertex AI (generateContent family).

It speaks the documented REST wire format: ``POST /v1beta/models/{model}:generateContent``
and ``:streamGenerateContent?alt=sse`` (SSE ``data:`` frames of GenerateContentResponse
JSON, ``\\r\\n\\r\\n`` separated, no [DONE]; the last frame carries ``finishReason``),
``:batchEmbedContents``; the Vertex forms under
``/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:...`` including
``:predict`` for embeddings; and an OAuth2 token endpoint (``POST /token``, JWT-bearer
grant) that verifies the service account's RS256 assertion.

Errors use Google's body ``{"error": {"code", "message", "status", "details"}}``.
Behaviour is chosen by words in the model name so it works unchanged behind the mesh:

- ``rate-limit``: 429 RESOURCE_EXHAUSTED with a google.rpc.RetryInfo ``retryDelay: "7s"``
- ``too-long``: 400 INVALID_ARGUMENT "The input token count (...) exceeds the maximum..."
- ``overloaded``: 503 UNAVAILABLE
- ``blocked``: 200 with ``promptFeedback.blockReason: SAFETY`` and no candidates
- ``unsafe``: a candidate stopped with ``finishReason: SAFETY``
- ``malformed``: ``finishReason: MALFORMED_FUNCTION_CALL`` with no content
- ``cut``: the stream stops (clean EOF) before any finishReason
- ``abort``: chunked stream whose connection is dropped mid-chunk
- ``midstream-error``: one chunk, then ``data: {"error": ...}``
- ``ids``: function calls carry ``id``; ``thinking``: a thought part and ``thoughtSignature``
- ``parallel``: two function calls; ``cached``: ``cachedContentTokenCount``

Otherwise it answers text ("Hello from <model>! You said: <last user text>"), or calls
a declared function when tools are given and the function-calling mode is not NONE,
or summarises functionResponse parts when the last turn carries tool results.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from typing import Any

from tests.fakes._http import LoopbackUpstream, Recorded, Reply, vector, words


# ---------------------------------------------------------------- the Gemini fake
_GEMINI_PATH = re.compile(r"^/v1beta/models/(?P<model>[^/:]+):(?P<method>[A-Za-z]+)$")
_VERTEX_PATH = re.compile(
    r"^/v1/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/publishers/google/models/"
    r"(?P<model>[^/:]+):(?P<method>[A-Za-z]+)$"
)


def google_error(code: int, status: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = details
    return {"error": error}


def _b64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


class GeminiUpstream(LoopbackUpstream):
    def __init__(self, api_key: str = "test-gemini-key", public_key: Any = None, token_ttl: int = 3600) -> None:
        super().__init__()
        self.api_key = api_key
        self.public_key = public_key  # cryptography RSA public key, to verify service-account assertions
        self.token_ttl = token_ttl
        self.issued_tokens: list[str] = []
        self.assertions: list[dict[str, Any]] = []

    @property
    def token_uri(self) -> str:
        return self._server.root_url + "/token"

    @property
    def requests(self) -> list[Recorded]:
        return [r for r in self._server.requests if r.path != "/token"]

    @property
    def token_requests(self) -> list[Recorded]:
        return [r for r in self._server.requests if r.path == "/token"]

    # dispatch
    def _handle(self, req: Recorded) -> Reply:
        if req.path == "/token":
            return self._token(req)
        match = _GEMINI_PATH.match(req.path)
        if match:
            if req.headers.get("x-goog-api-key") != self.api_key:
                return Reply(400, google_error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", [
                    {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                     "domain": "googleapis.com"},
                ]))
        else:
            match = _VERTEX_PATH.match(req.path)
            if not match:
                return Reply(404, google_error(404, "NOT_FOUND", f"{req.path} is not found"))
            auth = req.headers.get("authorization", "")
            if not auth.startswith("Bearer ") or auth[7:] not in self.issued_tokens:
                return Reply(401, google_error(
                    401, "UNAUTHENTICATED",
                    "Request had invalid authentication credentials. Expected OAuth 2 access token.",
                ))
        model, method = match.group("model"), match.group("method")
        if method == "generateContent":
            return self._generate(model, req.body, stream=False)
        if method == "streamGenerateContent":
            if req.query.get("alt") != ["sse"]:
                return Reply(400, google_error(400, "INVALID_ARGUMENT", "this fake only streams with alt=sse"))
            return self._generate(model, req.body, stream=True)
        if method == "batchEmbedContents":
            return self._batch_embed(model, req.body)
        if method == "predict":
            return self._predict(req.body)
        return Reply(404, google_error(404, "NOT_FOUND", f"method {method} not found"))

    # OAuth2 token endpoint (JWT bearer grant, RFC 7523)
    def _token(self, req: Recorded) -> Reply:
        body = req.body if isinstance(req.body, dict) else {}
        if body.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" or "assertion" not in body:
            return Reply(400, {"error": "invalid_request", "error_description": "bad grant"})
        try:
            header_b64, payload_b64, signature_b64 = body["assertion"].split(".")
            header = json.loads(_b64url_decode(header_b64))
            claims = json.loads(_b64url_decode(payload_b64))
        except ValueError:
            return Reply(400, {"error": "invalid_grant", "error_description": "malformed assertion"})
        if header.get("alg") != "RS256":
            return Reply(400, {"error": "invalid_grant", "error_description": "alg"})
        if self.public_key is not None:
            from cryptography.exceptions import InvalidSignature
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.asymmetric import padding

            try:
                self.public_key.verify(_b64url_decode(signature_b64), f"{header_b64}.{payload_b64}".encode(),
                                       padding.PKCS1v15(), hashes.SHA256())
            except InvalidSignature:
                return Reply(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
        now = time.time()
        # google-auth addresses assertions to Google's canonical token URI whatever token_uri says.
        if claims.get("aud") not in (self.token_uri, "https://oauth2.googleapis.com/token") or not (claims.get("iat", 0) - 300 <= now <= claims.get("exp", 0)):
            return Reply(400, {"error": "invalid_grant", "error_description": "Invalid JWT: audience or time"})
        if "https://www.googleapis.com/auth/cloud-platform" not in str(claims.get("scope", "")).split():
            return Reply(400, {"error": "invalid_scope", "error_description": "scope"})
        self.assertions.append(claims)
        token = f"ya29.fake-{len(self.issued_tokens) + 1}-{uuid.uuid4().hex[:8]}"
        self.issued_tokens.append(token)
        return Reply(200, {"access_token": token, "expires_in": self.token_ttl, "token_type": "Bearer"})

    # generateContent
    def _generate(self, model: str, body: Any, stream: bool) -> Reply:
        if not isinstance(body, dict) or not body.get("contents"):
            return Reply(400, google_error(400, "INVALID_ARGUMENT", "* GenerateContentRequest.contents: contents is not specified"))
        if "rate-limit" in model:
            return Reply(429, google_error(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).", [
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"},
            ]))
        if "too-long" in model:
            msg = "The input token count (1200293) exceeds the maximum number of tokens allowed (1048576)."
            return Reply(400, google_error(400, "INVALID_ARGUMENT", msg))
        if "overloaded" in model:
            return Reply(503, google_error(503, "UNAVAILABLE", "The model is overloaded. Please try again later."))
        prompt_tokens = sum(words(p.get("text", "")) for c in body["contents"] for p in c.get("parts", []))
        usage = {"promptTokenCount": prompt_tokens, "candidatesTokenCount": 0, "totalTokenCount": prompt_tokens}
        if "cached" in model:
            usage["cachedContentTokenCount"] = max(1, prompt_tokens // 2)
        response_id = uuid.uuid4().hex[:20]
        if "blocked" in model:
            blocked = {"promptFeedback": {"blockReason": "SAFETY", "safetyRatings": [
                {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"}]},
                "usageMetadata": usage, "modelVersion": model, "responseId": response_id}
            return Reply(sse=[self._frame(blocked)]) if stream else Reply(200, blocked)
        config = body.get("generationConfig") or {}
        count = int(config.get("candidateCount") or 1)
        candidates = [self._candidate(model, body, i) for i in range(count)]
        completion = sum(c.pop("_tokens") for c in candidates)
        usage = {**usage, "candidatesTokenCount": completion, "totalTokenCount": prompt_tokens + completion}
        if "thinking" in model:
            usage["thoughtsTokenCount"] = 5
            usage["totalTokenCount"] += 5
        if not stream:
            return Reply(200, {"candidates": candidates, "usageMetadata": usage, "modelVersion": model,
                               "responseId": response_id})
        return self._stream(model, candidates, usage, response_id)

    def _candidate(self, model: str, body: dict[str, Any], index: int) -> dict[str, Any]:
        contents = body["contents"]
        last = contents[-1]
        config = body.get("generationConfig") or {}
        tools = [d for t in body.get("tools") or [] for d in t.get("functionDeclarations") or []]
        mode = ((body.get("toolConfig") or {}).get("functionCallingConfig") or {}).get("mode", "AUTO")
        allowed = ((body.get("toolConfig") or {}).get("functionCallingConfig") or {}).get("allowedFunctionNames")
        responses = [p["functionResponse"] for p in last.get("parts", []) if "functionResponse" in p]
        user_text = " ".join(p.get("text", "") for p in last.get("parts", []) if "text" in p).strip()
        if "malformed" in model:
            return {"content": {"parts": [], "role": "model"}, "finishReason": "MALFORMED_FUNCTION_CALL",
                    "index": index, "_tokens": 0}
        parts: list[dict[str, Any]] = []
        if "thinking" in model:
            parts.append({"text": "Let me think about which tool fits.", "thought": True})
        if responses:
            text = "Tool results: " + "; ".join(
                f"{r.get('name')}={json.dumps(r.get('response'), sort_keys=True)}" for r in responses)
            parts.append({"text": text})
        elif tools and mode != "NONE":
            chosen = [t for t in tools if not allowed or t["name"] in allowed]
            for n, tool in enumerate(chosen[: 2 if "parallel" in model else 1]):
                call: dict[str, Any] = {"name": tool["name"], "args": _sample_args(tool.get("parameters") or {})}
                if "ids" in model:
                    call["id"] = f"fc-{uuid.uuid4().hex[:8]}"
                part: dict[str, Any] = {"functionCall": call}
                if "thinking" in model and n == 0:
                    part["thoughtSignature"] = base64.b64encode(b"sig:" + tool["name"].encode()).decode()
                parts.append(part)
        else:
            if config.get("responseMimeType") == "application/json":
                text = json.dumps({"answer": f"Hello from {model}", "echo": user_text})
            else:
                text = f"Hello from {model}! You said: {user_text}"
            if count := len(body.get("generationConfig", {}).get("stopSequences") or []):
                text += f" (with {count} stop sequences)"
            if index:
                text = f"[candidate {index}] " + text
            parts.append({"text": text})
        reason = "STOP"
        limit = config.get("maxOutputTokens")
        text_parts = [p for p in parts if "text" in p and not p.get("thought")]
        if limit is not None and text_parts and words(text_parts[-1]["text"]) > limit:
            text_parts[-1]["text"] = " ".join(text_parts[-1]["text"].split()[:limit])
            reason = "MAX_TOKENS"
        if "unsafe" in model:
            reason = "SAFETY"
        tokens = sum(words(p.get("text", "")) for p in parts) + 3 * sum(1 for p in parts if "functionCall" in p)
        return {"content": {"parts": parts, "role": "model"}, "finishReason": reason, "index": index,
                "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"}],
                "_tokens": tokens}

    @staticmethod
    def _frame(obj: Any) -> bytes:
        return b"data: " + json.dumps(obj).encode() + b"\r\n\r\n"

    def _stream(self, model: str, candidates: list[dict[str, Any]], usage: dict[str, Any], rid: str) -> Reply:
        frames: list[bytes] = []
        partial_usage = {"promptTokenCount": usage["promptTokenCount"], "totalTokenCount": usage["promptTokenCount"]}
        for candidate in candidates:
            parts = candidate["content"]["parts"]
            pieces: list[dict[str, Any]] = []
            for part in parts:
                if "text" in part and not part.get("thought"):
                    tokens = part["text"].split(" ")
                    for start in range(0, len(tokens), 3):
                        text = " ".join(tokens[start:start + 3]) + (" " if start + 3 < len(tokens) else "")
                        pieces.append({"text": text})
                else:
                    pieces.append(part)
            for n, piece in enumerate(pieces):
                chunk = {"content": {"parts": [piece], "role": "model"}, "index": candidate["index"]}
                last = n == len(pieces) - 1
                if last:
                    chunk["finishReason"] = candidate["finishReason"]
                frames.append(self._frame({"candidates": [chunk], "usageMetadata": usage if last else partial_usage,
                                           "modelVersion": model, "responseId": rid}))
            if not pieces:
                frames.append(self._frame({"candidates": [{**candidate, "content": {"parts": [], "role": "model"}}],
                                           "usageMetadata": usage, "modelVersion": model, "responseId": rid}))
        if "midstream-error" in model:
            return Reply(sse=frames[:1] + [self._frame(google_error(500, "INTERNAL", "An internal error has occurred."))])
        if "cut" in model:
            return Reply(sse=frames[: max(1, len(frames) - 1)])
        if "abort" in model:
            return Reply(sse=frames, abort_after=max(1, len(frames) - 1))
        return Reply(sse=frames)

    # embeddings
    def _batch_embed(self, model: str, body: Any) -> Reply:
        requests = (body or {}).get("requests")
        if not isinstance(requests, list) or not requests:
            return Reply(400, google_error(400, "INVALID_ARGUMENT", "requests is required"))
        if "rate-limit" in model:
            return Reply(429, google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded."), headers={"retry-after": "3"})
        embeddings = []
        for item in requests:
            if item.get("model") != f"models/{model}":
                return Reply(400, google_error(400, "INVALID_ARGUMENT",
                                               "BatchEmbedContentsRequest.model must match each request's model"))
            text = " ".join(p.get("text", "") for p in item["content"]["parts"])
            embeddings.append({"values": vector(text, int(item.get("outputDimensionality") or 8))})
        return Reply(200, {"embeddings": embeddings})

    def _predict(self, body: Any) -> Reply:
        instances = (body or {}).get("instances")
        if not isinstance(instances, list) or not instances:
            return Reply(400, google_error(400, "INVALID_ARGUMENT", "instances is required"))
        dims = int(((body or {}).get("parameters") or {}).get("outputDimensionality") or 8)
        predictions = [{"embeddings": {"values": vector(i["content"], dims),
                                       "statistics": {"token_count": words(i["content"]), "truncated": False}}}
                       for i in instances]
        return Reply(200, {"predictions": predictions, "metadata": {"billableCharacterCount": 10}})


def _sample_args(schema: dict[str, Any]) -> dict[str, Any]:
    samples = {"STRING": "Paris", "INTEGER": 1, "NUMBER": 1.5, "BOOLEAN": True}
    props = schema.get("properties") or {}
    return {name: samples.get(str(props[name].get("type", "")).upper()) for name in schema.get("required") or []
            if name in props}
