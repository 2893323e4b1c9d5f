"""Build the shared Lambda layer without Docker.

    python layers/build.py                 # full: pip wheels for Lambda + llm_mesh
    python layers/build.py --core-only     # only copy llm_mesh (fast, offline; tests)

Output: ``layers/build/<name>/python/`` (Lambda adds ``/opt/python`` to sys.path).
Full mode runs ``pip install --target ... --platform manylinux2014_x86_64
--implementation cp --python-version 3.12 --only-binary=:all:`` for the runtime
dependencies read from pyproject.toml (core ``dependencies`` + the ``aws`` extra, never
cdk/test), so
binary wheels (pydantic-core, tiktoken, uvloop...) match the Lambda runtime, whatever
machine builds it. A stamp file skips the pip step when the requirements did not change.

Also stages the function bundles (``stage_function``): a function's own folder plus
the mesh.yaml it serves, so the config travels with the code it was validated for.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS_DIR = ROOT / "layers"
DEFAULT_BUILD_DIR = LAYERS_DIR / "build"
PYPROJECT = ROOT / "pyproject.toml"
LAYER_EXTRAS = ("aws", "opensearch", "gcp")  # never cdk/test/dev; opensearch-py for OpenSearch KBs, google-auth for Vertex
SRC_PACKAGE = ROOT / "src" / "llm_mesh"
FUNCTIONS_DIR = ROOT / "functions"
LAYER_NAME = "shared"
PYTHON_VERSION = "3.12"
# Lambda's python3.12 runtime is Amazon Linux 2023 (glibc 2.34): manylinux_2_28 wheels run
# there, and some dependencies (tiktoken >= 0.12) publish no manylinux2014 wheel any more.
PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_28_x86_64")

_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", "tests", "test_*.py", ".pytest_cache")


def _copy_tree(src: Path, dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest, ignore=_IGNORE)


def runtime_requirements() -> list[str]:
    """The layer's requirements, straight from pyproject.toml so they never drift."""
    import tomllib

    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in LAYER_EXTRAS:
        requirements.extend(project["optional-dependencies"][extra])
    return requirements


def _requirements_digest(requirements: list[str]) -> str:
    text = "\n".join(requirements)
    return hashlib.sha256(f"{PLATFORMS}|{PYTHON_VERSION}|{text}".encode()).hexdigest()


def _pip_install(target: Path) -> None:
    requirements = runtime_requirements()
    stamp = target / ".requirements.sha256"
    digest = _requirements_digest(requirements)
    if stamp.exists() and stamp.read_text().strip() == digest:
        return
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    requirements_file = target.parent / "requirements.txt"  # outside python/: not shipped
    requirements_file.write_text("\n".join(requirements) + "\n")
    cmd = [
        sys.executable, "-m", "pip", "install",
        "--quiet", "--disable-pip-version-check", "--no-compile",
        "--target", str(target),
        *(arg for platform in PLATFORMS for arg in ("--platform", platform)),
        "--implementation", "cp",
        "--python-version", PYTHON_VERSION,
        "--only-binary=:all:",
        "--upgrade",
        "-r", str(requirements_file),
    ]
    subprocess.run(cmd, check=True)
    stamp.write_text(digest + "\n")


def build_layer(build_dir: Path | str = DEFAULT_BUILD_DIR, core_only: bool = False, name: str = LAYER_NAME) -> Path:
    """Build the layer and return its root (the folder that contains ``python/``).

    ``core_only`` copies just ``llm_mesh`` (no pip, no network): for tests and quick
    synths; a deployable layer needs the full build.
    """
    layer_root = Path(build_dir) / (f"{name}-core" if core_only else name)
    python_dir = layer_root / "python"
    if core_only:
        python_dir.mkdir(parents=True, exist_ok=True)
    else:
        _pip_install(python_dir)
    _copy_tree(SRC_PACKAGE, python_dir / "llm_mesh")
    return layer_root


def stage_function(name: str, config_file: Path | str, build_dir: Path | str = DEFAULT_BUILD_DIR) -> Path:
    """Copy ``functions/<name>`` plus the mesh config (as ``mesh.yaml``) into a bundle folder."""
    source = FUNCTIONS_DIR / name
    if not source.is_dir():
        raise FileNotFoundError(f"no function folder {source}")
    dest = Path(build_dir) / "functions" / name
    _copy_tree(source, dest)
    shutil.copyfile(config_file, dest / "mesh.yaml")
    prompts = Path(config_file).parent / "prompts"  # the prompt catalogue's files travel with their config
    if prompts.is_dir():
        _copy_tree(prompts, dest / "prompts")
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--core-only", action="store_true", help="copy llm_mesh only, no pip (offline, fast)")
    parser.add_argument("--build-dir", default=str(DEFAULT_BUILD_DIR))
    args = parser.parse_args(argv)
    root = build_layer(args.build_dir, core_only=args.core_only)
    print(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
