import pytest

from llm_mesh.errors import InvalidRequest
from llm_mesh.providers.common.embeddings import embedding_texts, embeddings_response
from llm_mesh.providers.common.messages import stop_list
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest


def test_embedding_texts() -> None:
    assert embedding_texts(EmbeddingsRequest(model="m", input="one"), "no") == ["one"]
    with pytest.raises(InvalidRequest, match="text only") as info:
        embedding_texts(EmbeddingsRequest(model="m", input=[1, 2]), "text only", param="input")
    assert info.value.param == "input"


def test_embeddings_response() -> None:
    out = embeddings_response("m", [[0.5], [1.0, 0.0]], 7)
    assert [(d.index, d.embedding) for d in out.data] == [(0, [0.5]), (1, [1.0, 0.0])]
    assert out.model == "m" and (out.usage.prompt_tokens, out.usage.total_tokens) == (7, 7)
    assert embeddings_response("m", []).usage.total_tokens == 0


def test_stop_list() -> None:
    assert stop_list(None) == [] and stop_list("") == [] and stop_list([]) == []
    assert stop_list("###") == ["###"] and stop_list(["a", "b"]) == ["a", "b"]
