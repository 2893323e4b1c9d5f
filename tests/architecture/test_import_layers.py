"""The import contract of ``src/llm_mesh``, checked on the source on every CI run.

- No import circles, lazy imports inside functions included.
- Adapters sit on top: the HTTP layer, the CLI and the composition root
  (``llm_mesh.runtime``) are imported only by adapters and entry points.
- The gateway core never reaches up into a capability or an adapter: capabilities
  plug into its stages, the core does not know them.
- AWS SDKs and web frameworks are imported only inside adapter modules, so the
  domain core runs the same in both homes.
"""

from __future__ import annotations

import ast

from tests.architecture.import_graph import SRC, _imports, cycles, import_graph, module_name

ADAPTER_TOPS = ("llm_mesh.http", "llm_mesh.cli", "llm_mesh.runtime")
ENTRY_POINTS = ("llm_mesh.aws.lambda_entry", "llm_mesh.agents.lambda_tasks")
CAPABILITIES = ("llm_mesh.policy", "llm_mesh.kb", "llm_mesh.prompts", "llm_mesh.audit", "llm_mesh.agents", "llm_mesh.cost.hook")
FRAMEWORKS = ("boto3", "botocore", "fastapi", "starlette", "mangum", "uvicorn", "aws_lambda_powertools", "opensearchpy")
ADAPTER_PACKAGES = ("llm_mesh.aws", "llm_mesh.http", "llm_mesh.cli", "llm_mesh.stores.dynamodb", "llm_mesh.providers",
                    "llm_mesh.kb.stores", "llm_mesh.policy.detectors.optional")


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_there_are_no_import_circles():
    found = cycles(import_graph())
    assert not found, "import circles (break them with a shared base module or a port):\n" + "\n".join(
        " <-> ".join(c) for c in found)


def test_adapters_are_imported_only_by_adapters_and_entry_points():
    upward = sorted(
        f"{source} -> {target}"
        for source, targets in import_graph().items()
        for target in targets
        if _within(target, ADAPTER_TOPS) and not _within(source, ADAPTER_TOPS + ENTRY_POINTS)
    )
    assert not upward, "upward imports into the HTTP layer, CLI or composition root:\n" + "\n".join(upward)


def test_the_gateway_core_knows_no_capability_and_no_adapter():
    reaching = sorted(
        f"{source} -> {target}"
        for source, targets in import_graph().items() if _within(source, ("llm_mesh.gateway",))
        for target in targets
        if _within(target, CAPABILITIES + ADAPTER_TOPS + ("llm_mesh.aws",))
    )
    assert not reaching, "the gateway core imports a capability or an adapter:\n" + "\n".join(reaching)


def test_aws_sdks_and_web_frameworks_stay_in_adapters():
    found = []
    for path in sorted((SRC / "llm_mesh").rglob("*.py")):
        module = module_name(path)
        if _within(module, ADAPTER_PACKAGES + ENTRY_POINTS):
            continue
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [f"{module} imports {n}" for n in names if n.split(".")[0] in FRAMEWORKS]
    assert not found, "\n".join(found)


def test_the_contract_sees_a_circle_when_there_is_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
