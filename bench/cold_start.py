"""Cold-start init of the gateway functions, measured the way Lambda pays it.

    .venv/bin/python bench/cold_start.py                   # builds the full layer (pip, needs PyPI once)
    .venv/bin/python bench/cold_start.py --runs 7 --layer-dir /tmp/layer

Each sample is a fresh CPython 3.12 process (the runtime's version) with the layer's
``python/`` and the staged function bundle on ``sys.path`` and ``PYTHONDONTWRITEBYTECODE=1``
(``/opt`` and ``/var/task`` are read-only on Lambda, so nothing compiled at run time is
kept). It times what a cold invocation does before answering:
- buffered: ``import handler`` (functions/gateway) + building the app (mangum + build_aws_app);
- streaming: ``import uvicorn`` + ``observability.build_streaming_app()`` (run.sh's factory);
- ``import boto3`` alone, in the same run, as the yardstick.
Variants: the layer as built (with ``.pyc``, unchecked-hash) and a copy without any ``.pyc``
(the layer before bytecode was precompiled). Prints wall median and min, and CPU median.
No AWS call leaves the machine: DynamoDB and Secrets Manager point at a closed loopback port (the
secret read at start-up fails fast, as a missing secret would).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from layers.build import build_layer, lambda_python, stage_function  # noqa: E402

# Each prints "wall_seconds cpu_seconds": CPU time is the steadier figure on a shared machine
# (it excludes waiting for a core), wall time is what a caller waits.
_START = "import time; t, c = time.perf_counter(), time.process_time(); "
_END = "; print(time.perf_counter() - t, time.process_time() - c)"
SNIPPETS = {
    "buffered": _START + ("import handler; from mangum import Mangum; from llm_mesh.aws.lambda_entry import build_aws_app; "
                          "Mangum(build_aws_app(), lifespan='off')") + _END,
    "streaming": _START + ("import uvicorn; from llm_mesh.aws.observability import build_streaming_app; "
                           "build_streaming_app()") + _END,
    "import boto3": _START + "import boto3" + _END,
}


def _environment(python_path: list[Path], config: Path) -> dict[str, str]:
    from llm_mesh.stores.dynamodb.tables import TABLES

    env = {
        # what the Lambda runtime sets (the mesh picks its per-instance choices from them: JSON logs
        # through Powertools, httpx's own transport); the stack's POWERTOOLS_TRACE_DISABLED below
        "AWS_LAMBDA_FUNCTION_NAME": "llm-mesh-bench", "LAMBDA_TASK_ROOT": str(config.parent),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.pathsep.join(map(str, python_path)),
        "PYTHONDONTWRITEBYTECODE": "1", "MESH_HOME": "aws", "MESH_CONFIG": str(config),
        "MESH_DYNAMODB_ENDPOINT": "http://127.0.0.1:9", "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
        # the openai provider resolves its secret at start-up: a closed loopback port, not the internet
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1",
        "AWS_ACCESS_KEY_ID": "AKIDBENCH", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_EC2_METADATA_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "llm-mesh", "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    env.update({spec.env_var: f"bench-{spec.logical}" for spec in TABLES})
    return env


def _sample(python: str, snippet: str, env: dict[str, str], cwd: Path) -> tuple[float, float]:
    result = subprocess.run([python, "-c", snippet], env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"init failed:\n{result.stderr[-2000:]}")
    wall, cpu = result.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def _without_pyc(layer_python: Path, dest: Path) -> Path:
    shutil.copytree(layer_python, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--layer-dir", default=str(ROOT / "layers" / "build"), help="build dir of the full layer")
    parser.add_argument("--config", default=str(ROOT / "mesh.aws.yaml"))
    args = parser.parse_args(argv)
    python = lambda_python()
    if python is None:
        raise SystemExit("needs a CPython 3.12 (set MESH_LAYER_PYTHON)")
    layer_python = build_layer(args.layer_dir) / "python"
    with tempfile.TemporaryDirectory(prefix="cold-start-") as tmp:
        bundle = stage_function("gateway", args.config, Path(tmp) / "build")
        bare = _without_pyc(layer_python, Path(tmp) / "bare")
        rows = []
        for variant, layer in (("with .pyc", layer_python), ("no .pyc", bare)):
            env = _environment([bundle, layer], bundle / "mesh.yaml")
            for name, snippet in SNIPPETS.items():
                samples = [_sample(python, snippet, env, bundle) for _ in range(args.runs)]
                walls, cpus = [w for w, _ in samples], [c for _, c in samples]
                rows.append((variant, name, statistics.median(walls), min(walls), statistics.median(cpus)))
    print(f"{'layer':10} {'init':14} {'wall p50 s':>10} {'wall min s':>10} {'cpu p50 s':>9}"
          f"   ({args.runs} fresh processes each, {python}, load {os.getloadavg()[0]:.1f})")
    for variant, name, median, low, cpu in rows:
        print(f"{variant:10} {name:14} {median:10.3f} {low:10.3f} {cpu:9.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
