"""Load and validate mesh.yaml, reporting every problem with its path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from llm_mesh.config.fragments import FragmentError, attribute, merge_fragments
from llm_mesh.config.schema import MeshConfig
from llm_mesh.config.self_hosted import expand_self_hosted
from llm_mesh.fleet.expand import expand_fleet


class ConfigError(Exception):
    """An invalid config; ``problems`` holds one ``path: message`` line each."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: invalid mesh config\n" + "\n".join(f"  - {p}" for p in problems))


def _format(exc: ValidationError) -> list[str]:
    lines = []
    for err in exc.errors():
        path = ".".join(str(part) for part in err["loc"]) or "(root)"
        message = err["msg"].removeprefix("Value error, ")
        lines.append(f"{path}: {message}")
    return lines


def parse_config(data: Any, source: str = "<config>") -> MeshConfig:
    if not isinstance(data, dict):
        raise ConfigError(source, ["(root): the config must be a mapping"])
    try:
        return MeshConfig.model_validate(expand_fleet(expand_self_hosted(data)))
    except ValidationError as exc:
        raise ConfigError(source, _format(exc)) from None


def load_merged(path: str | Path) -> dict[str, Any]:
    """mesh.yaml's data with the registry fragments beside it merged in (not yet validated)."""
    return _load_merged(Path(path))[0]


def _load_merged(path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"(file): cannot read: {exc.strerror}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        raise ConfigError(str(path), [f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}"]) from None
    if not isinstance(data, dict):
        raise ConfigError(str(path), ["(root): the config must be a mapping"])
    try:
        return merge_fragments(data, path.parent, str(path))
    except FragmentError as exc:
        raise ConfigError(str(path), exc.problems) from None


def load_config(path: str | Path) -> MeshConfig:
    """mesh.yaml plus its registry fragments (``registry/<unit>/*.yaml``), validated together."""
    path = Path(path)
    data, origin = _load_merged(path)
    try:
        return parse_config(data, str(path))
    except ConfigError as exc:
        raise ConfigError(exc.source, attribute(exc.problems, origin)) from None


def json_schema() -> str:
    """The JSON Schema of mesh.yaml, for editors (yaml-language-server)."""
    return json.dumps(MeshConfig.model_json_schema(), indent=2, sort_keys=True)
