"""Shared HTTP plumbing for providers: one pooled async client each, timeouts from
config, and the mapping of transport failures and HTTP statuses to mesh errors."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Mapping

import httpx

from llm_mesh.errors import (
    ContentPolicyViolation,
    ContextLengthExceeded,
    InvalidRequest,
    MeshError,
    PermissionDenied,
    RateLimited,
    UpstreamError,
    UpstreamSaturated,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from llm_mesh.wire.json_depth import MAX_JSON_DEPTH, nests_deeper_than

ErrorClassifier = Callable[[int, Any], MeshError | None]


class _NoCookies(httpx.Cookies):
    """Upstream cookies are never kept: one pooled client serves every app, so a
    cookie set on one app's response must not ride along on another app's request.
    Skipping extraction also saves httpx's per-response urllib cookie emulation."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None

    def set_cookie_header(self, request: httpx.Request) -> None:
        return None


class _UpstreamClient(httpx.AsyncClient):
    """The provider's pooled client. At most ``pool_size`` calls are in flight; a call waits
    for a slot up to ``pool_timeout`` and then fails with ``httpx.PoolTimeout``. The wait is
    the mesh's own queue, so it never eats into the connect timeout (which times only the
    TCP/TLS connect) and is never reported as the upstream timing out."""

    def __init__(self, *, pool_size: int, pool_timeout: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._cookies = _NoCookies()  # httpx has no switch to turn its cookie jar off
        self._pool_size, self._pool_timeout = pool_size, pool_timeout
        self._slots_by_loop: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}
        self._direct_urls: dict[str, str] = {}
        self._direct_timeout: Any = None
        self._map_errors: Any = None
        self._headers_type: Any = None

    def _slots(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        slots = self._slots_by_loop.get(loop)
        if slots is None:
            self._slots_by_loop = {k: v for k, v in self._slots_by_loop.items() if not k.is_closed()}
            slots = self._slots_by_loop[loop] = asyncio.Semaphore(self._pool_size)
        return slots

    async def _acquire_slot(self, request: httpx.Request | None) -> asyncio.Semaphore:
        slots = self._slots()
        if slots.locked():
            try:
                async with asyncio.timeout(self._pool_timeout):
                    await slots.acquire()
            except TimeoutError:
                raise httpx.PoolTimeout(f"no free upstream connection in {self._pool_timeout:g} s", request=request) from None
        else:
            await slots.acquire()
        return slots

    async def send(self, request: httpx.Request, *, stream: bool = False, **kwargs: Any) -> httpx.Response:
        slots = await self._acquire_slot(request)
        try:
            response = await super().send(request, stream=stream, **kwargs)
        except BaseException:
            slots.release()
            raise
        if not stream:  # the body is read and the connection back in the pool
            slots.release()
        else:  # the slot is the connection's until the stream is closed
            response.stream = _ReleasingStream(response.stream, slots.release)
        return response

    async def post_content(self, path: str | httpx.URL, content: str, headers: dict[str, str] | None) -> UpstreamReply:
        """POST ``content`` and read the whole answer. Over the aiohttp transport this goes to
        aiohttp's session directly: httpx's request and response models around it cost more
        CPU than aiohttp's own call (about 0.3 ms a request). The same pool slots, timeouts,
        no redirects, no cookies, and aiohttp's failures raised as the httpx errors the
        transport maps them to, so callers see one behaviour either way."""
        session = self._direct_session()
        if session is None:
            response = await self.post(path, content=content, headers=headers)
            return UpstreamReply(response.status_code, response.headers, response.content)
        url = self._direct_urls.get(path) if isinstance(path, str) else None
        if url is None:
            url = str(self._merge_url(path))
            if isinstance(path, str) and len(self._direct_urls) < 64:
                self._direct_urls[path] = url
        merged = self._headers_type(self.headers)
        merged.pop("accept-encoding", None)  # aiohttp asks for the encodings it can decode
        merged.setdefault("content-type", "application/json")  # else aiohttp labels bytes octet-stream
        if headers:
            merged.update(headers)
        slots = await self._acquire_slot(None)
        try:
            with self._map_errors():
                async with session.request("POST", url, data=content.encode(), headers=merged, allow_redirects=False,
                                           timeout=self._direct_timeout) as response:
                    return UpstreamReply(response.status, response.headers, await response.read())
        finally:
            slots.release()

    def _direct_session(self) -> Any:
        """The aiohttp session under this client, or None where httpx must do the call (its own
        transport, a test's mock transport, auth or event hooks that only httpx would run)."""
        transport = self._transport
        mapper = _aiohttp_error_mapper(transport)
        if mapper is None or self.auth is not None or any(self.event_hooks.values()):
            return None
        if self._direct_timeout is None:
            import aiohttp

            t = self.timeout
            self._direct_timeout = aiohttp.ClientTimeout(sock_connect=t.connect, sock_read=t.read, connect=t.pool)
            self._map_errors = mapper
            from multidict import CIMultiDict  # aiohttp's own header type: case-insensitive keys

            self._headers_type = CIMultiDict
        if not isinstance(transport.client, _aiohttp_session_type()):
            transport.client = transport.get_client()
        return transport.client


@dataclass(frozen=True, slots=True)
class UpstreamReply:
    """A whole upstream answer: what the status mapping and the JSON parsing read."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes


def _aiohttp_error_mapper(transport: Any) -> Any:
    """httpx_aiohttp's mapping of aiohttp errors to httpx ones, when ``transport`` is its."""
    module = sys.modules.get("httpx_aiohttp.transport")
    if module is None or not isinstance(transport, module.AiohttpTransport):
        return None
    return module.map_aiohttp_exceptions


def _aiohttp_session_type() -> type:
    import aiohttp

    return aiohttp.ClientSession


class _ReleasingStream(httpx.AsyncByteStream):
    """A streamed body that gives its pool slot back when it is closed (once)."""

    def __init__(self, inner: Any, release: Callable[[], None]) -> None:
        self._inner, self._release = inner, release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()


def aiohttp_transport(limits: httpx.Limits) -> httpx.AsyncBaseTransport | None:
    """aiohttp's transport where many requests share the process, else None (httpx's own).

    httpcore's pool scans every connection per request, which costs milliseconds at a few
    dozen concurrent requests (encode/httpx#3215); aiohttp's pool does not. On Lambda
    (``AWS_LAMBDA_FUNCTION_NAME`` set) an instance serves one request at a time, so that
    cost never arises, while importing aiohttp (via httpx_aiohttp) costs 0.1-0.4 s of every
    cold start: there the import is skipped. The httpx interface is the same either way.
    """
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return None
    try:
        from httpx_aiohttp import AiohttpTransport
    except ImportError:  # pragma: no cover - the default httpcore transport still works
        return None
    import aiohttp

    def cookieless_session() -> aiohttp.ClientSession:
        # aiohttp's session keeps cookies in its own jar, beneath httpx's: one pooled session
        # serves every app, so a cookie one upstream answer sets must never ride on the next call
        connector = aiohttp.TCPConnector(limit=limits.max_connections or 0, keepalive_timeout=limits.keepalive_expiry,
                                         ssl=transport.ssl_context)
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(), trust_env=False)

    transport = AiohttpTransport(limits=limits, trust_env=False, client=cookieless_session)
    return transport


def build_client(base_url: str, timeouts: Any, max_connections: int, headers: dict[str, str]) -> httpx.AsyncClient:
    pool_timeout = getattr(timeouts, "pool", 30.0)
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    transport = aiohttp_transport(limits)
    return _UpstreamClient(
        pool_size=max_connections,
        pool_timeout=pool_timeout,
        base_url=base_url,
        transport=transport,
        trust_env=False,  # proxy variables must not redirect upstream traffic
        # httpx's pool timeout is aiohttp's "connect" (pool wait + connect): the slots above
        # already queue the call, so the transport's own pool never waits; connect alone is
        # aiohttp's sock_connect, the time to open a new connection.
        timeout=httpx.Timeout(connect=timeouts.connect, read=timeouts.read, write=timeouts.read,
                              pool=timeouts.connect + pool_timeout),
        limits=limits,
        headers=headers,
        follow_redirects=False,  # a redirect must never move a request (and its key) to another host
    )


def retry_after_headers(response: httpx.Response | UpstreamReply) -> dict[str, str]:
    value = response.headers.get("retry-after")
    if value is None:
        ms = response.headers.get("retry-after-ms")
        if ms is not None:
            try:
                value = str(max(1, round(float(ms) / 1000)))
            except ValueError:
                value = None
    return {"Retry-After": value} if value else {}


def upstream_message(body: Any) -> str:
    """Best-effort human message from an upstream error body (truncated, no headers)."""
    message = None
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            message = err.get("message") or err.get("detail")
        elif isinstance(err, str):
            message = err
        message = message or body.get("message") or body.get("detail")
    if not isinstance(message, str):
        message = ""
    return message[:500]


def status_error(provider: str, response: httpx.Response | UpstreamReply, body: Any, classify: ErrorClassifier | None = None) -> MeshError:
    """Map an upstream error status to the mesh error the client should see."""
    status = response.status_code
    detail = upstream_message(body)
    if classify is not None:
        specific = classify(status, body)
        if specific is not None:
            return specific
    suffix = f": {detail}" if detail else ""
    if status == 429:
        return RateLimited(f"provider {provider} is rate limiting{suffix}", headers=retry_after_headers(response))
    if status in (400, 422):
        lowered = detail.lower()
        if "context length" in lowered or "context_length" in lowered or "maximum context" in lowered:
            return ContextLengthExceeded(f"provider {provider}: {detail}")
        if "content" in lowered and ("policy" in lowered or "filter" in lowered):
            return ContentPolicyViolation(f"provider {provider}: {detail}")
        return InvalidRequest(f"provider {provider} rejected the request{suffix}")
    if status == 404:
        return InvalidRequest(f"provider {provider} does not know this model{suffix}", code="upstream_model_not_found")
    if status in (401, 403):
        # The caller cannot fix the mesh's own credential: surface as a gateway fault.
        return UpstreamError(f"provider {provider} refused the mesh's credentials", code="upstream_auth_failed")
    if status == 503:
        return UpstreamUnavailable(f"provider {provider} is unavailable{suffix}", headers=retry_after_headers(response))
    if status == 504:
        return UpstreamTimeout(f"provider {provider} timed out{suffix}")
    return UpstreamError(f"provider {provider} failed with status {status}{suffix}")


def _dropped_connection(exc: Exception) -> bool:
    """The aiohttp transport reports a dropped or reset connection as httpx.ConnectTimeout;
    its cause says what really happened."""
    cause = exc.__cause__
    aiohttp = sys.modules.get("aiohttp")  # an aiohttp error means aiohttp is loaded
    if cause is None or aiohttp is None:
        return False
    return isinstance(cause, (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError, ConnectionError)) or (
        isinstance(cause, aiohttp.ClientConnectionError) and not isinstance(cause, aiohttp.ServerTimeoutError)
    )


def transport_error(provider: str, exc: Exception) -> MeshError:
    if isinstance(exc, httpx.PoolTimeout):
        return UpstreamSaturated(f"provider {provider} has every connection busy; the call was shed",
                                 headers={"Retry-After": "1"})
    if isinstance(exc, httpx.TimeoutException) and _dropped_connection(exc):
        return UpstreamUnavailable(f"provider {provider} dropped the connection")
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamTimeout(f"provider {provider} did not answer in time")
    if isinstance(exc, (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        return UpstreamUnavailable(f"provider {provider} connection failed ({type(exc).__name__})")
    return UpstreamUnavailable(f"provider {provider} request failed ({type(exc).__name__})")


def stream_cut(provider: str) -> UpstreamError:
    """The upstream ended (or broke off) a stream before it had completed."""
    return UpstreamError(f"provider {provider} ended the stream before it completed", code="stream_cut")


def parse_event(provider: str, data: str) -> Any:
    """The JSON payload of one stream event."""
    try:
        return _not_too_deep(provider, json.loads(data), data)
    except (ValueError, RecursionError):
        raise UpstreamError(f"provider {provider} sent a malformed stream event") from None


def parse_json(provider: str, content: bytes) -> Any:
    try:
        return _not_too_deep(provider, json.loads(content), content)
    except (ValueError, RecursionError):
        raise UpstreamError(f"provider {provider} returned malformed JSON") from None


def _not_too_deep(provider: str, value: Any, raw: str | bytes) -> Any:
    """An answer nested past what the wire models can serialize would pass parsing and fail
    later, on the way to the cache or the client: refuse it here as the upstream's fault."""
    if nests_deeper_than(value, raw=raw):
        raise UpstreamError(f"provider {provider} returned JSON nested more than {MAX_JSON_DEPTH} levels deep")
    return value


async def post_json(
    client: httpx.AsyncClient,
    provider: str,
    path: str | httpx.URL,
    payload: Any,
    headers: dict[str, str] | None = None,
    classify: ErrorClassifier | None = None,
) -> Any:
    content = json.dumps(payload, separators=(",", ":"))
    try:
        if isinstance(client, _UpstreamClient):
            response: httpx.Response | UpstreamReply = await client.post_content(path, content, headers)
        else:
            response = await client.post(path, content=content, headers=headers)
    except httpx.HTTPError as exc:
        raise transport_error(provider, exc) from None
    if response.status_code >= 300:  # a redirect is not followed: it is a failure
        body = _safe_json(response.content)
        raise status_error(provider, response, body, classify)
    return parse_json(provider, response.content)


@asynccontextmanager
async def open_stream(
    client: httpx.AsyncClient,
    provider: str,
    path: str | httpx.URL,
    payload: Any,
    headers: dict[str, str] | None = None,
    classify: ErrorClassifier | None = None,
) -> AsyncIterator[httpx.Response]:
    request = client.build_request(
        "POST", path, content=json.dumps(payload, separators=(",", ":")), headers=headers
    )
    try:
        response = await client.send(request, stream=True)
    except httpx.HTTPError as exc:
        raise transport_error(provider, exc) from None
    try:
        if response.status_code >= 300:  # a redirect is not followed: it is a failure
            try:
                content = await response.aread()
            except httpx.HTTPError as exc:
                raise transport_error(provider, exc) from None
            raise status_error(provider, response, _safe_json(content), classify)
        yield response
    finally:
        await response.aclose()


async def iter_lines(
    provider: str, response: httpx.Response, started: Callable[[], bool] | None = None
) -> AsyncIterator[str]:
    """Lines of a streamed body; transport failures mid-stream become mesh errors:
    ``stream_cut`` once ``started()`` says the answer had begun, else a transport error."""
    try:
        async for line in response.aiter_lines():
            yield line
    except httpx.HTTPError as exc:
        if started is not None and started():
            raise stream_cut(provider) from None
        raise transport_error(provider, exc) from None


def _safe_json(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        return None
