import pytest

from llm_mesh.errors import InvalidRequest
from llm_mesh.providers.common.tool_calls import parse_tool_arguments


@pytest.mark.parametrize("blank", ["", "   ", None])
def test_blank_arguments_are_an_empty_object(blank: str | None) -> None:
    assert parse_tool_arguments(blank, not_json="x") == {}


def test_object_is_decoded() -> None:
    assert parse_tool_arguments('{"city": "Paris", "n": 2}', not_json="x") == {"city": "Paris", "n": 2}


def test_not_json() -> None:
    with pytest.raises(InvalidRequest, match="not JSON") as caught:
        parse_tool_arguments("{city", not_json="not JSON", not_object="not an object", param="messages.1")
    assert caught.value.param == "messages.1"


@pytest.mark.parametrize("text", ["[1, 2]", '"a"', "3"])
def test_json_but_not_an_object(text: str) -> None:
    with pytest.raises(InvalidRequest, match="not an object"):
        parse_tool_arguments(text, not_json="not JSON", not_object="not an object")
    with pytest.raises(InvalidRequest, match="not JSON"):  # one message for both when no not_object
        parse_tool_arguments(text, not_json="not JSON")
