"""The federated registry: business units' fragments merged into mesh.yaml.

A unit owns ``registry/<unit>/*.yaml`` beside mesh.yaml (the directory is
``registry.directory``; ``registry.include`` adds files or globs). A fragment names
its owner, SLA, guardrails, hosting and region, and declares ``models:`` (registry
entries, which inherit that metadata unless they set their own) and ``routes:``.

The ownership rule: a unit may declare only names that start with ``<unit>-`` or
``<unit>/``. A name declared twice (by two fragments, or by a fragment and the
central file) is refused, naming both files. Every fragment problem is reported at
once; the merged config is then validated as one (its problems name their fragment).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError

from llm_mesh.config.base import Strict

UNIT_PATTERN = r"^[a-z0-9][a-z0-9_]*(?:-[a-z0-9_]+)*$"
_UNIT = re.compile(UNIT_PATTERN)
SECTIONS = ("models", "routes")
_INHERITED = ("owner", "sla", "guardrails", "hosting", "region")


class FragmentError(Exception):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class FragmentFile(Strict):
    """The shape of one fragment file."""

    unit: str | None = Field(default=None, pattern=UNIT_PATTERN,
                             description="the owning unit; defaults to the folder name under registry/")
    owner: str = Field(min_length=1, description="the accountable team or person")
    description: str | None = None
    sla: str | None = None
    guardrails: tuple[str, ...] = ()
    hosting: Literal["public_api", "in_region", "self_hosted"] | None = None
    region: str | None = None
    models: dict[str, dict[str, Any]] = Field(default_factory=dict)
    routes: dict[str, dict[str, Any]] = Field(default_factory=dict)


@dataclass
class _Loaded:
    path: Path
    shown: str  # the path as errors name it
    rel: str  # relative to the config's directory
    unit: str
    body: FragmentFile
    owners: dict[tuple[str, str], str] = field(default_factory=dict)


def owns(unit: str, name: str) -> bool:
    return name.startswith((f"{unit}-", f"{unit}/"))


def _discover(base: Path, settings: dict[str, Any], problems: list[str]) -> list[tuple[Path, str | None]]:
    """Fragment files with the unit their folder implies (None for an include outside it)."""
    found: dict[Path, str | None] = {}
    directory = settings.get("directory", "registry")
    root = (base / directory) if isinstance(directory, str) else None
    if root is not None and (Path(directory).is_absolute() or ".." in Path(directory).parts):
        problems.append(f"registry.directory: {directory!r} must be a folder inside the config's folder")
        root = None
    if root is not None and root.is_dir():
        for path in sorted(p for p in root.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml")):
            problems.append(f"{path}: a fragment lives in {root}/<unit>/, not directly in {root}")
        for path in sorted(root.glob("*/*.y*ml")):
            if path.suffix in (".yaml", ".yml"):
                found[path.resolve()] = path.parent.name
    for pattern in settings.get("include") or ():
        if not isinstance(pattern, str) or Path(pattern).is_absolute() or ".." in Path(pattern).parts:
            problems.append(f"registry.include: {pattern!r} must be a path relative to the config, inside its folder")
            continue
        matches = sorted(base.glob(pattern))
        if not matches:
            problems.append(f"registry.include: no file matches {pattern!r} (in {base})")
        for path in matches:
            inside = root is not None and path.resolve().parent.parent == root.resolve()
            found.setdefault(path.resolve(), path.parent.name if inside else None)
    return list(found.items())


def _read(path: Path, shown: str, problems: list[str]) -> FragmentFile | None:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        problems.append(f"{shown}: cannot read: {exc.strerror}")
        return None
    except yaml.YAMLError as exc:
        problems.append(f"{shown}: not valid YAML: {getattr(exc, 'problem', exc)}")
        return None
    try:
        return FragmentFile.model_validate(data if data is not None else {})
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(part) for part in err["loc"]) or "(root)"
            problems.append(f"{shown}: {where}: {err['msg'].removeprefix('Value error, ')}")
        return None


def _load_all(base: Path, settings: dict[str, Any], problems: list[str]) -> list[_Loaded]:
    loaded = []
    for path, folder_unit in _discover(base, settings, problems):
        shown = str(base / path.relative_to(base.resolve())) if path.is_relative_to(base.resolve()) else str(path)
        body = _read(path, shown, problems)
        if body is None:
            continue
        unit = folder_unit or body.unit
        if unit is None:
            problems.append(f"{shown}: unit: a fragment outside registry/<unit>/ must name its unit")
            continue
        if folder_unit is not None and body.unit not in (None, folder_unit):
            problems.append(f"{shown}: unit: says {body.unit!r} but the file is in the folder of unit {folder_unit!r}")
            continue
        if not _UNIT.match(unit):
            problems.append(f"{shown}: unit {unit!r} must match {UNIT_PATTERN}")
            continue
        rel = path.relative_to(base.resolve()).as_posix() if path.is_relative_to(base.resolve()) else str(path)
        loaded.append(_Loaded(path, shown, rel, unit, body))
    return loaded


def _check_names(central: dict[str, Any], source: str, fragments: list[_Loaded], problems: list[str]) -> None:
    units = {f.unit for f in fragments}
    declared: dict[tuple[str, str], str] = {}
    for section in SECTIONS:
        names = central.get(section)
        for name in names if isinstance(names, dict) else ():
            declared[(section, name)] = source
    for frag in fragments:
        for section in SECTIONS:
            for name in getattr(frag.body, section):
                key = (section, name)
                if key in declared:
                    problems.append(f"{section}.{name}: declared by both {declared[key]} and {frag.shown}")
                else:
                    declared[key] = frag.shown
                if not owns(frag.unit, name):
                    others = sorted(u for u in units if u != frag.unit and owns(u, name))
                    whose = f"; it belongs to unit {others[-1]!r}" if others else ""
                    problems.append(
                        f"{frag.shown}: {section}.{name}: unit {frag.unit!r} may only declare names starting with "
                        f"'{frag.unit}-' or '{frag.unit}/'{whose}")


def _model_with_metadata(frag: FragmentFile, entry: dict[str, Any]) -> dict[str, Any]:
    merged = dict(entry)
    for key in _INHERITED:
        value = getattr(frag, key)
        if value not in (None, ()):
            merged.setdefault(key, list(value) if isinstance(value, tuple) else value)
    return merged


def merge_fragments(data: dict[str, Any], base: Path, source: str) -> tuple[dict[str, Any], dict[str, str]]:
    """``data`` (the central file) with every fragment merged in, and where each merged
    name came from (``"routes.x"`` -> fragment path), for attributing later problems."""
    settings = data.get("registry") if isinstance(data.get("registry"), dict) else {}
    problems: list[str] = []
    if settings.get("fragments"):
        problems.append(f"{source}: registry.fragments: filled from the fragment files; do not write it by hand")
    fragments = _load_all(base, settings, problems)
    _check_names(data, source, fragments, problems)
    if problems:
        raise FragmentError(problems)
    merged = dict(data)
    origin: dict[str, str] = {}
    records = []
    for frag in fragments:
        body = frag.body
        merged["models"] = {**(merged.get("models") or {}),
                            **{n: _model_with_metadata(body, e) for n, e in body.models.items()}}
        merged["routes"] = {**(merged.get("routes") or {}), **body.routes}
        origin.update({f"{s}.{n}": frag.shown for s in SECTIONS for n in getattr(body, s)})
        records.append({"unit": frag.unit, "path": frag.rel, "owner": body.owner, "description": body.description,
                        "sla": body.sla, "guardrails": list(body.guardrails), "hosting": body.hosting,
                        "region": body.region, "models": sorted(body.models), "routes": sorted(body.routes)})
    if records:
        merged["registry"] = {**settings, "fragments": records}
    return merged, origin


def attribute(problems: list[str], origin: dict[str, str]) -> list[str]:
    """Name the fragment a merged-config problem comes from (``routes.x...`` -> its file)."""
    if not origin:
        return problems
    pattern = re.compile(r"\b(models|routes)\.([A-Za-z0-9][A-Za-z0-9._:/-]*?)(?=[.:\s]|$)")
    out = []
    for line in problems:
        files = sorted({origin[f"{m[1]}.{m[2]}"] for m in pattern.finditer(line) if f"{m[1]}.{m[2]}" in origin})
        out.append(line + (f" (declared in {', '.join(files)})" if files else ""))
    return out


def fragment_paths(config_path: str | Path) -> list[str]:
    """The fragment files a config merges, relative to its folder (for bundling them with it)."""
    path = Path(config_path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    registry = data.get("registry") if isinstance(data, dict) else None
    base = path.parent.resolve()
    found = _discover(path.parent, registry if isinstance(registry, dict) else {}, [])
    return [p.relative_to(base).as_posix() for p, _ in found if p.is_relative_to(base)]
