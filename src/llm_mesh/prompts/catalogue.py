"""The prompt catalogue: immutable versions, movable labels, diff and rollback.

Versions come from files in the repo (``prompts/<name>/v<N>.yaml``, deployed with
the config) and from the admin API; both are published into the prompt store
once, and a published version never changes: a file edited after publication is
refused with a message asking for a new version file. Labels start where
mesh.yaml puts them and then move (promote, rollback) in the store; reads are
cached for a second so a label move reaches every instance within about a second.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from llm_mesh.errors import InvalidRequest, NotFound
from llm_mesh.prompts.config import PromptsConfig, PromptSpec
from llm_mesh.prompts.store import LabelMove, PromptStore, StoredVersion

_FILE = re.compile(r"^v(\d+)\.(ya?ml|json)$")
LABEL_TTL_SECONDS = 1.0


class PromptConflict(ValueError):
    pass


@dataclass(frozen=True)
class PromptVersion:
    name: str
    version: int
    spec: PromptSpec
    content_hash: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "hash": self.content_hash, **self.spec.model_dump(mode="json", exclude_none=True)}


def canonical(spec: PromptSpec) -> str:
    return json.dumps(spec.model_dump(mode="json", exclude_none=True), sort_keys=True, separators=(",", ":"))


def spec_hash(spec: PromptSpec) -> str:
    return hashlib.sha256(canonical(spec).encode()).hexdigest()


def prompts_directory(config: PromptsConfig) -> Path:
    base = os.environ.get("MESH_PROMPTS_DIR")
    if base:
        return Path(base)
    # The CLI sets MESH_CONFIG_DIR: a relative folder in mesh.yaml is relative to that file.
    return Path(os.environ.get("MESH_CONFIG_DIR", ".")) / config.directory


def load_directory(directory: Path) -> dict[str, dict[int, PromptSpec]]:
    """Every ``<name>/v<N>.yaml`` under the folder, validated."""
    found: dict[str, dict[int, PromptSpec]] = {}
    if not directory.is_dir():
        return found
    for folder in sorted(p for p in directory.iterdir() if p.is_dir()):
        for file in sorted(folder.iterdir()):
            match = _FILE.match(file.name)
            if not match:
                continue
            try:
                raw = yaml.safe_load(file.read_text(encoding="utf-8"))
                found.setdefault(folder.name, {})[int(match.group(1))] = PromptSpec.model_validate(raw)
            except (ValidationError, yaml.YAMLError) as exc:
                raise PromptConflict(f"{file}: invalid prompt version: {exc}") from None
    return found


MAX_VERSION = 2**63 - 1


class PromptCatalogue:
    def __init__(self, config: PromptsConfig, store: PromptStore, files: dict[str, dict[int, PromptSpec]] | None = None) -> None:
        self.config = config
        self.store = store
        self._versions: dict[tuple[str, int], PromptVersion] = {}
        self._labels: dict[str, tuple[float, dict[str, int]]] = {}
        self._lock = threading.Lock()
        self.publish_files(files if files is not None else load_directory(prompts_directory(config)))

    # ------------------------------------------------------------ versions
    def publish_files(self, files: dict[str, dict[int, PromptSpec]]) -> None:
        for name, versions in files.items():
            for number, spec in sorted(versions.items()):
                self._publish(name, number, spec, author="repo")
            for label, number in self.config.labels.get(name, {}).items():
                if label not in self.store.get_labels(name):
                    self.store.move_label(LabelMove(name, label, number, time.time(), "config"))

    def _publish(self, name: str, number: int, spec: PromptSpec, author: str) -> PromptVersion:
        digest = spec_hash(spec)
        stored = StoredVersion(name, number, canonical(spec), digest, time.time(), author)
        if not self.store.put_version(stored):
            existing = self.store.get_version(name, number)
            if existing is not None and existing.content_hash != digest:
                raise PromptConflict(
                    f"prompt {name!r} version {number} was already published with different content; "
                    f"versions are immutable: add version {number + 1} instead")
        version = PromptVersion(name, number, spec, digest)
        self._versions[(name, number)] = version
        return version

    def create_version(self, name: str, spec: PromptSpec, author: str = "") -> PromptVersion:
        """A new version through the admin API: the next number."""
        existing = self.store.list_versions(name)
        number = (existing[-1].version if existing else 0) + 1
        return self._publish(name, number, spec, author)

    def get(self, name: str, number: int) -> PromptVersion:
        version = self._versions.get((name, number))
        if version is None:
            # numbers past a 64-bit integer exist nowhere (and no store could even be asked about them)
            stored = self.store.get_version(name, number) if 0 < number <= MAX_VERSION else None
            if stored is None:
                raise NotFound(f"prompt {name!r} has no version {number}", code="prompt_not_found")
            version = PromptVersion(name, number, PromptSpec.model_validate_json(stored.body), stored.content_hash)
            self._versions[(name, number)] = version
        return version

    def names(self) -> list[str]:
        return sorted({v.name for v in self.store.list_versions()})

    def versions(self, name: str) -> list[PromptVersion]:
        return [self.get(name, s.version) for s in self.store.list_versions(name)]

    # ------------------------------------------------------------ labels
    def labels(self, name: str, fresh: bool = False) -> dict[str, int]:
        now = time.monotonic()
        cached = self._labels.get(name)
        if cached is not None and not fresh and now - cached[0] < LABEL_TTL_SECONDS:
            return cached[1]
        labels = self.store.get_labels(name)
        self._labels[name] = (now, labels)
        return labels

    def move_label(self, name: str, label: str, number: int, actor: str = "") -> LabelMove:
        self.get(name, number)  # must exist
        move = LabelMove(name, label, number, time.time(), actor)
        self.store.move_label(move)
        self._labels.pop(name, None)
        return move

    def rollback(self, name: str, label: str, actor: str = "") -> LabelMove:
        """Point the label back at the version it held before its last move."""
        history = self.store.label_history(name, label)
        if len(history) < 2:
            raise InvalidRequest(f"label {label!r} of prompt {name!r} has no earlier version to roll back to")
        return self.move_label(name, label, history[1].version, actor)

    # ------------------------------------------------------------ references
    def resolve(self, reference: str) -> tuple[PromptVersion, str | None]:
        """``NAME``, ``NAME@label`` or ``NAME@<version>`` (``@v3`` too) -> (version, label used)."""
        name, _, selector = reference.partition("@")
        if not name:
            raise InvalidRequest("prompt references look like prompt:NAME[@label|@version]", param="model")
        if selector and re.fullmatch(r"v?\d+", selector):
            return self.get(name, int(selector.lstrip("v"))), None
        labels = self.labels(name)
        label = selector or self.config.default_label
        if label in labels:
            return self.get(name, labels[label]), label
        if selector:
            raise NotFound(f"prompt {name!r} has no label {selector!r}", code="prompt_not_found", param="model")
        versions = self.store.list_versions(name)
        if not versions:
            raise NotFound(f"there is no prompt named {name!r}", code="prompt_not_found", param="model")
        return self.get(name, versions[-1].version), None

    def diff(self, name: str, a: int, b: int) -> str:
        left = yaml.safe_dump(self.get(name, a).spec.model_dump(mode="json", exclude_none=True), sort_keys=True).splitlines()
        right = yaml.safe_dump(self.get(name, b).spec.model_dump(mode="json", exclude_none=True), sort_keys=True).splitlines()
        return "\n".join(difflib.unified_diff(left, right, f"{name}@v{a}", f"{name}@v{b}", lineterm=""))
