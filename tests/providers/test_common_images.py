import pytest

from llm_mesh.errors import InvalidRequest
from llm_mesh.providers.common.images import parse_data_url


def test_parses_mime_and_payload() -> None:
    parsed = parse_data_url("data:image/PNG;name=x.png;base64,aGk=")
    assert parsed is not None
    assert parsed.mime == "image/PNG"
    assert parsed.media_type == "image/png"
    assert parsed.data == "aGk="
    assert parsed.decode() == b"hi"


def test_mime_may_be_missing_or_malformed() -> None:
    missing = parse_data_url("data:;base64,aGk=")
    assert missing is not None and missing.mime is None and missing.media_type is None
    odd = parse_data_url("data:image png;base64,aGk=")
    assert odd is not None and odd.mime == "image png" and odd.media_type is None


@pytest.mark.parametrize("url", ["https://example.com/a.png", "data:image/png,hello", "data:image/png;utf8,x", "nodata"])
def test_not_a_base64_data_url(url: str) -> None:
    assert parse_data_url(url) is None


def test_bad_base64_is_invalid_request_with_the_callers_words() -> None:
    parsed = parse_data_url("data:image/png;base64,not base64!")
    assert parsed is not None
    with pytest.raises(InvalidRequest, match="bad image") as caught:
        parsed.decode("bad image", param="messages")
    assert caught.value.param == "messages"


def test_payload_may_span_lines() -> None:
    parsed = parse_data_url("data:text/plain;base64,aG\nk=")
    assert parsed is not None and parsed.data == "aG\nk="
