"""llm_mesh.aws.observability: a handler wrapped by ``instrument`` logs JSON lines on stdout
carrying API Gateway's request id as the correlation id and, once the response names it,
the mesh request id; never the event body; tracing disabled locally
(POWERTOOLS_TRACE_DISABLED=true). The streaming app's ASGI middleware does the same from
the Lambda Web Adapter's request-context header."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator

import pytest

from llm_mesh.aws.observability import CorrelationMiddleware, instrument, make_logger, tracing_enabled

EVENTS = Path(__file__).resolve().parents[2] / "events"
API_REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"  # requestContext.requestId of the sample event
PROMPT = "Where is my order 42?"  # in the sample event's body: must never reach the logs


@pytest.fixture(autouse=True)
def local_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    mesh = logging.getLogger("llm_mesh")
    saved = (list(mesh.handlers), mesh.propagate, mesh.level)
    yield
    mesh.handlers, mesh.propagate = saved[0], saved[1]  # the routing is process-wide: undo it for other tests
    mesh.setLevel(saved[2])


def _service() -> str:
    return f"obs-test-{uuid.uuid4().hex[:8]}"  # a fresh Powertools logger, bound to this test's captured stdout


def _context() -> SimpleNamespace:
    return SimpleNamespace(function_name="gateway", memory_limit_in_mb=1024, aws_request_id="lambda-req-1",
                           invoked_function_arn="arn:aws:lambda:eu-west-1:123456789012:function:gateway",
                           get_remaining_time_in_millis=lambda: 29000)


def _lines(captured: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in captured.splitlines() if line.startswith("{")]


def _response(mesh_id: str) -> dict[str, Any]:
    return {"statusCode": 200, "body": json.dumps({"choices": [{"message": {"content": "order 42 shipped"}}]}),
            "headers": {"content-type": "application/json", "x-mesh-request-id": mesh_id},
            "multiValueHeaders": {"x-mesh-route": ["support-chat"], "x-mesh-cost-usd": ["0.000123"]}}


def test_wrapped_handler_logs_json_with_both_request_ids_and_no_body(capsys: pytest.CaptureFixture[str]) -> None:
    event = json.loads((EVENTS / "chat_completions.json").read_text())
    assert PROMPT in event["body"]
    seen: list[Any] = []

    @instrument(_service(), route_mesh_logs=True)
    def handler(event: dict, context: Any) -> dict:
        seen.append(context)
        logging.getLogger("llm_mesh.gateway.test").info("routing %s", "support-chat")
        return _response("mesh-abc")

    context = _context()
    response = handler(event, context)
    assert response["statusCode"] == 200 and seen == [context]  # the handler gets the real context
    out = capsys.readouterr().out
    lines = _lines(out)
    assert [line["message"] for line in lines] == ["routing support-chat", "invocation done"]
    for line in lines:
        assert line["correlation_id"] == API_REQUEST_ID
        assert line["function_request_id"] == "lambda-req-1" and line["function_name"] == "gateway"
        assert line["level"] == "INFO" and "T" in line["timestamp"]  # RFC 3339
    app_line, done = lines
    assert app_line["name"] == "llm_mesh.gateway.test"  # the mesh's own logger, through the Powertools handler
    assert done["mesh_request_id"] == "mesh-abc" and done["status"] == 200
    assert done["route"] == "support-chat" and done["cost_usd"] == "0.000123"
    assert PROMPT not in out and "order 42 shipped" not in out and "Authorization" not in out
    assert handler.tracer is None  # type: ignore[attr-defined]  # tracing off: no X-Ray SDK Tracer is built


@pytest.mark.parametrize(("environ", "enabled"), [
    ({"LAMBDA_TASK_ROOT": "/var/task"}, True),
    ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "false"}, True),
    ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "true"}, False),
    ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "1"}, False),
    ({"LAMBDA_TASK_ROOT": "/var/task", "AWS_SAM_LOCAL": "true"}, False),
    ({}, False),  # not on Lambda: nothing would receive the segments
])
def test_the_tracer_is_built_only_where_it_records(environ: dict[str, str], enabled: bool) -> None:
    assert tracing_enabled(environ) is enabled


def test_warm_invocation_drops_the_previous_mesh_request_id(capsys: pytest.CaptureFixture[str]) -> None:
    event = json.loads((EVENTS / "chat_completions.json").read_text())
    ids = iter(["first", "second"])

    @instrument(_service())
    def handler(event: dict, context: Any) -> dict:
        handler.logger.info("working")  # type: ignore[attr-defined]
        return _response(next(ids))

    handler(event, _context())
    second = dict(event, requestContext={**event["requestContext"], "requestId": "api-2"})
    handler(second, _context())
    lines = _lines(capsys.readouterr().out)
    assert [(line["message"], line.get("mesh_request_id"), line["correlation_id"]) for line in lines] == [
        ("working", None, API_REQUEST_ID), ("invocation done", "first", API_REQUEST_ID),
        ("working", None, "api-2"), ("invocation done", "second", "api-2"),
    ]


def test_non_http_events_and_missing_context_fields(capsys: pytest.CaptureFixture[str]) -> None:
    @instrument(_service(), correlation_id_path="state.run.run_id || state.run_id")
    def handler(event: dict, context: Any) -> dict:
        handler.logger.info("task")  # type: ignore[attr-defined]
        return {"next": "decide"}

    assert handler({"task": "route", "state": {"run": {"run_id": "run-7"}}}, None) == {"next": "decide"}
    [line] = _lines(capsys.readouterr().out)
    assert line["correlation_id"] == "run-7" and "mesh_request_id" not in line


def test_mesh_logs_left_alone_off_aws() -> None:
    mesh = logging.getLogger("llm_mesh")
    before = (list(mesh.handlers), mesh.propagate)
    make_logger(_service())
    assert (list(mesh.handlers), mesh.propagate) == before


def test_streaming_middleware_correlates_from_the_web_adapter_header(capsys: pytest.CaptureFixture[str]) -> None:
    logger = make_logger(_service())

    async def app(scope: dict, receive: Any, send: Any) -> None:
        logger.info("streaming")
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream"), (b"x-mesh-request-id", b"mesh-s1")]})
        await send({"type": "http.response.body", "body": b"data: secret tokens\n\n"})

    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    context = json.dumps({"requestId": "api-stream-1", "stage": "prod"}).encode()
    scope = {"type": "http", "headers": [(b"x-amzn-request-context", context)]}
    asyncio.run(CorrelationMiddleware(app, logger)(scope, receive, send))
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    out = capsys.readouterr().out
    lines = _lines(out)
    assert [(line["message"], line["correlation_id"], line.get("mesh_request_id")) for line in lines] == [
        ("streaming", "api-stream-1", None), ("invocation done", "api-stream-1", "mesh-s1")]
    assert "secret tokens" not in out


def test_streaming_factory_wraps_the_aws_app(monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi import FastAPI

    from llm_mesh.aws import lambda_entry, observability

    built = FastAPI()
    monkeypatch.setattr(lambda_entry, "build_aws_app", lambda: built)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", _service())
    app = observability.build_streaming_app()
    assert app is built and [m.cls for m in app.user_middleware] == [CorrelationMiddleware]
