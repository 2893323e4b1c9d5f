"""layers/build.py: requirements come from pyproject (core + aws extra only); core-only mode is offline."""

from __future__ import annotations

from pathlib import Path

from layers.build import build_layer, runtime_requirements, stage_function


def test_runtime_requirements_are_core_plus_aws_extra_only() -> None:
    names = {r.split(">")[0].split("=")[0].split("[")[0].strip().lower() for r in runtime_requirements()}
    assert {"fastapi", "pydantic", "httpx", "boto3", "aws-lambda-powertools", "mangum"} <= names
    assert not names & {"aws-cdk-lib", "cdk-nag", "constructs", "pytest", "moto", "openai", "hypothesis"}


def test_core_only_layer_and_function_staging(tmp_path: Path) -> None:
    layer = build_layer(tmp_path, core_only=True)
    assert (layer / "python" / "llm_mesh" / "__init__.py").exists()
    assert not list((layer / "python").rglob("__pycache__"))
    config = tmp_path / "mesh.yaml"
    config.write_text("version: 1\n")
    bundle = stage_function("gateway", config, tmp_path)
    assert (bundle / "handler.py").exists() and (bundle / "mesh.yaml").read_text() == "version: 1\n"


def _name(requirement: str) -> str:
    import re

    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].strip().lower().replace("_", "-")


def test_the_lock_pins_every_layer_requirement_with_a_hash() -> None:
    from layers.build import LOCK_FILE

    pinned = {}
    for line in LOCK_FILE.read_text().splitlines():
        if line and not line.startswith("#"):
            spec, _, digest = line.partition(" --hash=sha256:")
            assert "==" in spec and len(digest) == 64, line
            pinned[_name(spec)] = spec
    missing = {_name(r) for r in runtime_requirements()} - set(pinned)
    assert not missing, "run `python layers/build.py --lock`"
    assert {"pypdf", "numpy"} <= set(pinned)  # PDF ingestion on AWS
