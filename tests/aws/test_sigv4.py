"""The SigV4 client helper against a loopback server that *verifies* signatures.

The server recomputes each request's SigV4 signature with botocore from what it
received on the wire (method, path, query, signed headers, body) and the secret key
it knows, and answers 403 in OpenAI's error shape on any mismatch. So the openai SDK
only gets answers if signing is right; a wrong key proves the check is real.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator
from urllib.parse import urlsplit

import httpx
import openai
import pytest
from botocore.auth import SigV4Auth as BotocoreSigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from llm_mesh.aws.sigv4 import SigV4Auth, iam_async_http_client, iam_http_client

REGION = "eu-west-1"
SERVICE = "execute-api"
KEYS = {"AKIDEXAMPLE": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "ASIATEMPORARY": "temporary/secret+key"}


def verify(method: str, host: str, path: str, headers: dict[str, str], body: bytes) -> str | None:
    """None when the signature is valid, else why not."""
    auth = headers.get("authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return f"not a SigV4 Authorization header: {auth[:20]!r}"
    fields = dict(part.strip().split("=", 1) for part in auth[len("AWS4-HMAC-SHA256 "):].split(","))
    access_key, date, region, service, terminator = fields["Credential"].split("/")
    if (region, service, terminator) != (REGION, SERVICE, "aws4_request"):
        return f"wrong scope {region}/{service}/{terminator}"
    secret = KEYS.get(access_key)
    if secret is None:
        return "unknown access key"
    amz_date = headers.get("x-amz-date", "")
    if not amz_date.startswith(date):
        return "x-amz-date does not match the credential scope"
    signed = fields["SignedHeaders"].split(";")
    if "host" not in signed or "x-amz-date" not in signed:
        return "host and x-amz-date must be signed"
    request = AWSRequest(
        method=method, url=f"http://{host}{path}", data=body, headers={name: headers[name] for name in signed}
    )
    request.context["timestamp"] = amz_date
    signer = BotocoreSigV4Auth(Credentials(access_key, secret, headers.get("x-amz-security-token")), service, region)
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    if not hmac.compare_digest(expected, fields["Signature"]):
        return "signature mismatch"
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[dict[str, Any]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        problem = verify(self.command, headers["host"], self.path, headers, body)
        Handler.seen.append({"path": self.path, "headers": headers, "problem": problem})
        if problem:
            return self._json(403, {"error": {"message": problem, "type": "permission_error", "param": None, "code": None}})
        path = urlsplit(self.path).path
        if path.endswith("/chat/completions"):
            request = json.loads(body)
            text = "signed:" + request["messages"][-1]["content"]
            if request.get("stream"):
                return self._stream(request["model"], text)
            return self._json(200, {
                "id": "chatcmpl-1", "object": "chat.completion", "created": int(time.time()), "model": request["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            })
        return self._json(200, {"path": self.path})

    do_GET = do_POST = _handle

    def _json(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, model: str, text: str) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()

        def chunk(data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        for piece in (text[: len(text) // 2], text[len(text) // 2:]):
            event = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": model,
                     "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
            chunk(f"data: {json.dumps(event)}\n\n".encode())
        chunk(b"data: [DONE]\n\n")
        chunk(b"")


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/prod/v1"
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _reset() -> None:
    Handler.seen.clear()


CREDS = Credentials("AKIDEXAMPLE", KEYS["AKIDEXAMPLE"])


def test_openai_sdk_chat_is_signed_and_bearer_dropped(base_url: str) -> None:
    client = openai.OpenAI(base_url=base_url, api_key="unused", http_client=iam_http_client(REGION, credentials=CREDS))
    answer = client.chat.completions.create(model="support-chat", messages=[{"role": "user", "content": "héllo"}])
    assert answer.choices[0].message.content == "signed:héllo"
    (seen,) = Handler.seen
    assert seen["problem"] is None
    assert seen["headers"]["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "Bearer" not in json.dumps(seen["headers"])


def test_openai_sdk_streaming(base_url: str) -> None:
    client = openai.OpenAI(base_url=base_url, api_key="unused", http_client=iam_http_client(REGION, credentials=CREDS))
    stream = client.chat.completions.create(
        model="support-chat", messages=[{"role": "user", "content": "stream me"}], stream=True
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream)
    assert text == "signed:stream me"
    assert Handler.seen[0]["problem"] is None


async def test_async_openai_sdk(base_url: str) -> None:
    client = openai.AsyncOpenAI(
        base_url=base_url, api_key="unused", http_client=iam_async_http_client(REGION, credentials=CREDS)
    )
    answer = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "async"}])
    assert answer.choices[0].message.content == "signed:async"
    stream = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "s"}], stream=True)
    assert "".join([c.choices[0].delta.content or "" async for c in stream]) == "signed:s"
    await client.close()


def test_query_strings_and_encoded_paths(base_url: str) -> None:
    with iam_http_client(REGION, credentials=CREDS) as client:
        response = client.get(f"{base_url}/mesh/models/a%20b", params={"q": "x y/z", "a": "1", "empty": ""})
    assert response.status_code == 200, response.text
    assert Handler.seen[0]["problem"] is None


def test_temporary_credentials_sign_the_session_token(base_url: str) -> None:
    creds = Credentials("ASIATEMPORARY", KEYS["ASIATEMPORARY"], token="session-token-value")
    with iam_http_client(REGION, credentials=creds) as client:
        response = client.post(f"{base_url}/embeddings", json={"input": "x", "model": "e"})
    assert response.status_code == 200, response.text
    signed = Handler.seen[0]["headers"]["authorization"]
    assert "x-amz-security-token" in signed and Handler.seen[0]["headers"]["x-amz-security-token"] == "session-token-value"


def test_streamed_request_body_is_hashed(base_url: str) -> None:
    def body() -> Iterator[bytes]:
        yield b'{"model": "m", "messages": [{"role": "user", '
        yield b'"content": "chunked"}]}'

    with iam_http_client(REGION, credentials=CREDS) as client:
        response = client.post(f"{base_url}/chat/completions", content=body(), headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "signed:chunked"


def test_wrong_secret_is_rejected(base_url: str) -> None:
    wrong = Credentials("AKIDEXAMPLE", "not-the-secret")
    client = openai.OpenAI(base_url=base_url, api_key="unused", http_client=iam_http_client(REGION, credentials=wrong),
                           max_retries=0)
    with pytest.raises(openai.PermissionDeniedError, match="signature mismatch"):
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])


def test_tampered_body_is_rejected(base_url: str) -> None:
    request = httpx.Request("POST", f"{base_url}/chat/completions", json={"model": "m", "messages": []})
    SigV4Auth(REGION, credentials=CREDS).sign(request)
    tampered = httpx.Request("POST", request.url, headers=request.headers, content=request.content.replace(b"\"m\"", b"\"n\""))
    with httpx.Client() as client:
        response = client.send(tampered)
    assert response.status_code == 403 and "signature mismatch" in response.text


def test_wrong_region_scope_is_rejected(base_url: str) -> None:
    with iam_http_client("us-east-1", credentials=CREDS) as client:
        assert client.get(f"{base_url}/models").status_code == 403
    assert "wrong scope" in Handler.seen[0]["problem"]
