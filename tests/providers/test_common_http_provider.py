import pytest

from llm_mesh.config.schema import ProviderConfig
from llm_mesh.errors import InvalidRequest, UpstreamError
from llm_mesh.providers.common.http_provider import api_key_client, close_stream
from llm_mesh.secrets import EnvSecretResolver

SECRETS = EnvSecretResolver({"K": "sk-123"})


def config(**kwargs):  # type: ignore[no-untyped-def]
    return ProviderConfig(kind="openai", api_key={"env": "K"}, headers={"X-Team": "a"}, **kwargs)


async def test_bearer_key_and_default_base_url() -> None:
    client = api_key_client("p", config(), SECRETS, "https://up.example/v1")
    assert client.headers["Authorization"] == "Bearer sk-123"
    assert client.headers["X-Team"] == "a"
    assert str(client.base_url) == "https://up.example/v1/"
    await client.aclose()


async def test_own_key_header_extra_headers_and_no_key() -> None:
    client = api_key_client("p", config(base_url="https://mine.example"), SECRETS, "https://up.example",
                            key_header="x-api-key", extra_headers={"X-Team": "b", "v": "1"})
    assert client.headers["x-api-key"] == "sk-123" and "Authorization" not in client.headers
    assert (client.headers["X-Team"], client.headers["v"]) == ("b", "1")
    assert str(client.base_url) == "https://mine.example"
    await client.aclose()
    client = api_key_client("p", config(), SECRETS, "https://up.example", key_header=None)
    assert "Authorization" not in client.headers
    await client.aclose()


def test_base_url_required() -> None:
    with pytest.raises(InvalidRequest, match="needs base_url"):
        api_key_client("p", config(), SECRETS)


def test_close_stream_names_the_provider() -> None:
    assert close_stream("p", lambda: [1]) == [1]

    def cut() -> list[int]:
        raise UpstreamError("provider ended the stream before it completed", code="stream_cut")

    with pytest.raises(UpstreamError, match="provider p ended") as info:
        close_stream("p", cut)
    assert info.value.code == "stream_cut"
