"""Done-when: the state machine the CDK app synthesizes, executed by moto's Step Functions
interpreter, with its Lambda task invocations routed to the real task handler in-process,
reaches the same answer as the embedded runner on the same fake model.

How the Lambda hook works: moto's interpreter calls ``lambda:Invoke`` through boto3 (the
``arn:aws:states:::lambda:invoke`` integration); with ``lambda.use_docker = False`` moto
answers from ``LambdaSimpleBackend.invoke``. The test patches that one method so it loads
the function's ``Handler`` (``handler.handler``) from the code directory the CDK asset was
staged from (functions/agent_tasks + mesh.yaml) and calls it with the payload, returning
its JSON result, or a ``FunctionError`` like Lambda when it raises. The task handler then
builds its environment exactly as on AWS: config from MESH_CONFIG, DynamoDB stores (moto)
from MESH_TABLE_*, env/Secrets Manager credentials.
"""

from __future__ import annotations

import importlib.util
import json
import os
import textwrap
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

boto3 = pytest.importorskip("boto3")
moto = pytest.importorskip("moto")

from llm_mesh.agents import lambda_tasks  # noqa: E402
from llm_mesh.agents.runner import run_agent  # noqa: E402
from llm_mesh.stores.dynamodb.tables import TABLES  # noqa: E402
from tests.agents.localenv import local_env  # noqa: E402

REGION = "us-east-1"
QUESTION = "SELECT customer, total FROM orders ORDER BY total DESC"


def _config(base_url: str, db: Path) -> str:
    return textwrap.dedent(
        f"""
        version: 1
        providers:
          up: {{kind: openai, base_url: "{base_url}", api_key: {{env: FAKE_UPSTREAM_KEY}}}}
        routes:
          chat: {{provider: up, model: gpt-4o-mini}}
        apps:
          bot:
            routes: [chat]
            principals: [arn:aws:iam::123456789012:role/bot]
        agents:
          tools:
            orders: {{kind: sql, sqlite: "{db}", tables: [orders], max_rows: 50}}
          definitions:
            analyst:
              instructions: You answer questions about orders.
              route: chat
              tools: [orders]
              max_steps: 4
              max_cost_usd: "1.00"
              timeout: 60
        """
    )


class Synthesized:
    def __init__(self, template: dict[str, Any], build_dir: Path, config_path: Path) -> None:
        self.template = template
        self.build_dir = build_dir
        self.config_path = config_path

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == type_}

    def machine(self) -> tuple[str, dict[str, Any]]:
        (machine,) = self.resources("AWS::StepFunctions::StateMachine").values()
        return machine["Properties"]["DefinitionString"], machine["Properties"]["DefinitionSubstitutions"]


@pytest.fixture(scope="module")
def synthesized(fake: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    from infra.app import build_app
    from tests.agents.conftest import make_orders_db

    base = tmp_path_factory.mktemp("agents-cdk")
    db = make_orders_db(base / "orders.db")
    config_path = base / "mesh.yaml"
    # Synth refuses a loopback upstream and {env: …} credentials (deploy checks), so it gets the deployable
    # twin; the bundles then serve the fake, as a deployed stack would serve the real upstream.
    deployable = _config("https://upstream.example/v1", db).replace("{env: FAKE_UPSTREAM_KEY}", "{secret: mesh/up}")
    config_path.write_text(deployable)
    app, stack = build_app({"layerMode": "core", "meshConfig": str(config_path)},
                           outdir=str(base / "cdk.out"), build_dir=str(base / "build"))
    assembly = app.synth()  # cdk-nag findings fail the synth
    template = assembly.get_stack_by_name(stack.stack_name).template
    config_path.write_text(_config(fake.base_url, db))
    for bundled in (base / "build" / "functions").glob("*/mesh.yaml"):
        bundled.write_text(_config(fake.base_url, db))
    yield Synthesized(template, base / "build", config_path)


def test_synthesized_machine_shape(synthesized: Synthesized) -> None:
    definition, substitutions = synthesized.machine()
    machine = json.loads(definition)
    assert machine["StartAt"] == "Route"
    states = machine["States"]
    assert {"Route", "Redact", "InvokeModel", "Decide", "Next?", "RunTools", "Done"} <= set(states)
    for name in ("Route", "Redact", "InvokeModel", "Decide"):
        assert states[name]["Retry"] and states[name]["Catch"], name
    assert states["RunTools"]["Type"] == "Map" and states["RunTools"]["Catch"]
    assert set(substitutions) == {"AgentTaskFunctionArn"}
    functions = synthesized.resources("AWS::Lambda::Function")
    task = [f for f in functions.values() if f["Properties"].get("Description", "").startswith("LLM mesh agent tasks")]
    assert len(task) == 1 and task[0]["Properties"]["Handler"] == "handler.handler"
    gateway_envs = [f["Properties"]["Environment"]["Variables"] for f in functions.values()
                    if "gateway" in f["Properties"].get("Description", "")]
    assert gateway_envs and all("MESH_AGENT_STATE_MACHINE" in env for env in gateway_envs)


def _load_handler(code_dir: Path, handler: str) -> Any:
    module_name, _, function = handler.rpartition(".")
    spec = importlib.util.spec_from_file_location(f"agent_task_{module_name}", code_dir / f"{module_name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, function)


@pytest.fixture()
def lambda_in_process(synthesized: Synthesized, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Route moto's Lambda invocations to the staged handler, in-process; records task names."""
    from moto.awslambda_simple.models import LambdaSimpleBackend

    code_dir = synthesized.build_dir / "functions" / "agent_tasks"
    calls: list[str] = []

    def invoke(self: Any, function_name: str, qualifier: Any, body: Any, headers: Any, response_headers: Any) -> bytes:
        fn = self.get_function(function_name, qualifier)
        handler = _load_handler(code_dir, fn.handler)
        event = json.loads(body or "{}")
        calls.append(event.get("task"))
        try:
            result = handler(event, None)
        except Exception as exc:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}).encode()
        return json.dumps(result).encode()

    monkeypatch.setattr(LambdaSimpleBackend, "invoke", invoke)
    return calls


def _aws_env(monkeypatch: pytest.MonkeyPatch, synthesized: Synthesized) -> dict[str, str]:
    names = {spec.logical: f"mesh-{spec.logical}" for spec in TABLES}
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("MESH_CONFIG", str(synthesized.build_dir / "functions" / "agent_tasks" / "mesh.yaml"))
    monkeypatch.setenv("FAKE_UPSTREAM_KEY", "k")
    for spec in TABLES:
        monkeypatch.setenv(spec.env_var, names[spec.logical])
    return names


def _execute(synthesized: Synthesized, execution_input: dict[str, Any]) -> dict[str, Any]:
    definition, substitutions = synthesized.machine()
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="agent-tasks", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = (synthesized.build_dir / "functions" / "agent_tasks" / "handler.py").read_bytes()
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", code)
    arn = boto3.client("lambda", region_name=REGION).create_function(
        FunctionName="agent-tasks", Runtime="python3.12", Role=role, Handler="handler.handler",
        Code={"ZipFile": buffer.getvalue()},
    )["FunctionArn"]
    for key in substitutions:
        definition = definition.replace("${" + key + "}", arn)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(name="agents", definition=definition, roleArn=role)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps(execution_input),
                                    name=execution_input["run_id"])["executionArn"]  # named after its run, as deployed
    deadline = time.monotonic() + 60
    while True:
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            return described
        time.sleep(0.05)


def test_moto_executes_the_synthesized_machine_like_the_local_runner(
    synthesized: Synthesized, lambda_in_process: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fake: Any
) -> None:
    import asyncio

    from moto import mock_aws

    import yaml
    from llm_mesh.stores.dynamodb import create_tables

    # The embedded runner on the same config and the same fake model.
    async def local() -> dict[str, Any]:
        raw = yaml.safe_load(synthesized.config_path.read_text())
        async with local_env(raw, tmp_path) as env:
            return await run_agent(env, "analyst", QUESTION, app="bot", principal="arn:aws:iam::123456789012:role/bot")

    local_run = asyncio.run(local())
    assert local_run["status"] == "succeeded"
    fake.clear()

    names = _aws_env(monkeypatch, synthesized)
    lambda_tasks.set_env_factory(None)
    try:
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}):
            create_tables(boto3.client("dynamodb", region_name=REGION), names)
            described = _execute(synthesized, {
                "agent": "analyst", "input": QUESTION, "app": "bot", "principal": "arn:aws:iam::123456789012:role/bot",
                "run_id": "run_moto_1",
            })
            assert described["status"] == "SUCCEEDED", described
            output = json.loads(described["output"])
            store = lambda_tasks.environment().store
            run = store.get_run("run_moto_1")
            steps = store.steps("run_moto_1")
            lambda_tasks.set_env_factory(None)
    finally:
        lambda_tasks.set_env_factory(None)

    assert output["status"] == "succeeded"
    assert output["answer"] == local_run["answer"] == "Echo: " + QUESTION
    assert run["status"] == "succeeded" and run["answer"] == local_run["answer"]
    assert [s["kind"] for s in steps] == [s["kind"] for s in local_run["steps_detail"]] == ["model", "tool", "model"]
    assert json.loads(steps[1]["output"])["rows"] == json.loads(local_run["steps_detail"][1]["output"])["rows"]
    assert (run["prompt_tokens"], run["completion_tokens"]) == (local_run["prompt_tokens"], local_run["completion_tokens"])
    # Every task ran through the Lambda hook, in the state machine's order.
    assert lambda_in_process == ["route", "redact", "invoke_model", "decide", "run_tool", "decide",
                                 "redact", "invoke_model", "decide"]


# ---------------------------------------------------------------- large payloads and bad endings

BIG_QUESTION = "SELECT customer, total FROM orders"


def _big_tool_config(synthesized: Synthesized, tmp_path: Path) -> tuple[Path, int]:
    """A config whose SQL tool returns one ~1 MiB row (multi-byte text: ä, 漢, emoji)."""
    import sqlite3

    db = tmp_path / "big.db"
    unit = "Grüße 漢字 🚀 order-note; "  # 28 chars, 47 UTF-8 bytes
    note = unit * (1_048_576 // len(unit.encode()) + 1)
    conn = sqlite3.connect(db)
    conn.executescript("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT, total REAL);")
    conn.execute("INSERT INTO orders (customer, total) VALUES (?, ?)", (note, 1.0))
    conn.commit()
    conn.close()
    text = _config("http://x", db).replace("max_rows: 50}", "max_rows: 50, max_result_bytes: 5000000}")
    bundled = (synthesized.build_dir / "functions" / "agent_tasks" / "mesh.yaml").read_text()
    base_url = bundled.split('base_url: "', 1)[1].split('"', 1)[0]
    path = tmp_path / "mesh-big.yaml"
    path.write_text(text.replace("http://x", base_url))
    return path, len(note.encode())


@pytest.fixture()
def state_sizes(monkeypatch: pytest.MonkeyPatch, lambda_in_process: list[str]) -> list[int]:
    """Bytes of every state handed to a task and returned by it (the lambda hook's payloads)."""
    from moto.awslambda_simple.models import LambdaSimpleBackend

    sizes: list[int] = []
    hooked = LambdaSimpleBackend.invoke

    def measured(self: Any, function_name: str, qualifier: Any, body: Any, headers: Any, response_headers: Any) -> bytes:
        event = json.loads(body or "{}")
        sizes.append(len(json.dumps(event.get("state") or {}).encode()))
        result = hooked(self, function_name, qualifier, body, headers, response_headers)
        sizes.append(len(result))
        return result

    monkeypatch.setattr(LambdaSimpleBackend, "invoke", measured)
    return sizes


def test_a_one_mib_unicode_tool_result_finishes_in_moto(
    synthesized: Synthesized, state_sizes: list[int], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fake: Any
) -> None:
    from moto import mock_aws

    from llm_mesh.stores.dynamodb import create_tables

    config_path, note_bytes = _big_tool_config(synthesized, tmp_path)
    names = _aws_env(monkeypatch, synthesized)
    monkeypatch.setenv("MESH_CONFIG", str(config_path))
    lambda_tasks.set_env_factory(None)
    try:
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}):
            create_tables(boto3.client("dynamodb", region_name=REGION), names)
            described = _execute(synthesized, {
                "agent": "analyst", "input": BIG_QUESTION, "app": "bot",
                "principal": "arn:aws:iam::123456789012:role/bot", "run_id": "run_big_1",
            })
            store = lambda_tasks.environment().store
            run, steps = store.get_run("run_big_1"), store.steps("run_big_1")
    finally:
        lambda_tasks.set_env_factory(None)

    assert described["status"] == "SUCCEEDED", described
    assert run["status"] == "succeeded" and run["answer"] == "Echo: " + BIG_QUESTION
    tool_output = json.loads(steps[1]["output"])
    assert len(tool_output["rows"][0][0].encode()) == note_bytes >= 1_048_576  # the whole row, unicode intact
    assert "漢字 🚀" in tool_output["rows"][0][0] and "[truncated]" not in steps[1]["output"]
    # The model saw the whole result on its second call; the state never carried it.
    assert len(fake.requests[-1].json["messages"][-1]["content"].encode()) >= note_bytes
    largest = max(state_sizes)
    print(f"\nlargest state seen: {largest} bytes (limit 262,144) for a {note_bytes:,}-byte tool result")
    assert largest < 262_144 // 16


def test_a_failed_execution_leaves_the_run_failed(
    synthesized: Synthesized, lambda_in_process: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Decide fails (not a Lambda fault, so no retry): the execution ends FAILED with the run still
    "running"; the synthesized EventBridge rule matches the execution's status event, and the task
    function it targets marks the run failed."""
    from moto import mock_aws
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.events.models import EventPattern

    from llm_mesh.stores.dynamodb import create_tables

    hooked = LambdaSimpleBackend.invoke

    def decide_breaks(self: Any, function_name: str, qualifier: Any, body: Any, headers: Any, response_headers: Any) -> bytes:
        if json.loads(body or "{}").get("task") == "decide":
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": "RuntimeError", "errorMessage": "decide broke"}).encode()
        return hooked(self, function_name, qualifier, body, headers, response_headers)

    monkeypatch.setattr(LambdaSimpleBackend, "invoke", decide_breaks)
    names = _aws_env(monkeypatch, synthesized)
    lambda_tasks.set_env_factory(None)
    rule = _ended_badly_rule(synthesized)
    try:
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}):
            create_tables(boto3.client("dynamodb", region_name=REGION), names)
            described = _execute(synthesized, {
                "agent": "analyst", "input": QUESTION, "app": "bot",
                "principal": "arn:aws:iam::123456789012:role/bot", "run_id": "run_fail_1",
            })
            store = lambda_tasks.environment().store
            assert described["status"] == "FAILED", described
            assert store.get_run("run_fail_1")["status"] == "running"  # no Catch could finish it
            event = {"version": "0", "source": "aws.states", "detail-type": "Step Functions Execution Status Change",
                     "account": "123456789012", "region": REGION, "resources": [described["executionArn"]],
                     "detail": {"name": described["name"], "status": described["status"],
                                "error": described.get("error"), "cause": described.get("cause"),
                                "stateMachineArn": "MACHINE"}}
            pattern = json.loads(json.dumps(rule["EventPattern"]).replace(json.dumps(rule["machine_ref"]), '"MACHINE"'))
            matched = EventPattern.load(json.dumps(pattern)).matches_event(event)  # moto's matcher (no TestEventPattern)
            code_dir = synthesized.build_dir / "functions" / "agent_tasks"
            result = _load_handler(code_dir, "handler.handler")(event, None)
            run = store.get_run("run_fail_1")
    finally:
        lambda_tasks.set_env_factory(None)
    assert matched and result["updated"]
    assert run["status"] == "failed" and run["stop_reason"] == "execution_failed"
    assert run["error"]["code"] == "execution_failed"


def _ended_badly_rule(synthesized: Synthesized) -> dict[str, Any]:
    """The rule on the machine's bad endings, asserted with aws_cdk.assertions; it targets the task function."""
    from aws_cdk.assertions import Match, Template

    template = Template.from_json(synthesized.template)
    machine_id = next(iter(synthesized.resources("AWS::StepFunctions::StateMachine")))
    (function_id,) = [k for k, f in synthesized.resources("AWS::Lambda::Function").items()
                      if f["Properties"].get("Description", "").startswith("LLM mesh agent tasks")]
    template.has_resource_properties("AWS::Events::Rule", {
        "State": "ENABLED",
        "EventPattern": {"source": ["aws.states"], "detail-type": ["Step Functions Execution Status Change"],
                         "detail": {"status": Match.array_equals(["FAILED", "TIMED_OUT", "ABORTED"]),
                                    "stateMachineArn": [{"Ref": machine_id}]}},
        "Targets": Match.array_with([Match.object_like({"Arn": {"Fn::GetAtt": [function_id, "Arn"]}})]),
    })
    template.has_resource_properties("AWS::Lambda::Permission", {
        "Action": "lambda:InvokeFunction", "Principal": "events.amazonaws.com",
        "FunctionName": {"Fn::GetAtt": [function_id, "Arn"]}})
    (rule,) = [r["Properties"] for r in synthesized.resources("AWS::Events::Rule").values()
               if r["Properties"]["EventPattern"].get("source") == ["aws.states"]]
    return {**rule, "machine_ref": {"Ref": machine_id}}
