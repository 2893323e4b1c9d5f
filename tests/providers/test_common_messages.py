from typing import Any

from llm_mesh.providers.common.finish_reasons import CLAUDE_STOP_REASONS, lookup_finish_reason
from llm_mesh.providers.common.messages import append_turn, pick, system_roles


def test_system_roles_maps_developer_only() -> None:
    messages = [{"role": "developer", "content": "a"}, {"role": "user", "content": "b"}]
    assert system_roles(messages) == [{"role": "system", "content": "a"}, {"role": "user", "content": "b"}]
    assert messages[0]["role"] == "developer"  # input untouched


def test_pick_keeps_allowed_fields() -> None:
    assert pick({"a": 1, "b": 2}, frozenset({"a", "c"})) == {"a": 1}


def test_append_turn_merges_same_role_and_skips_empty() -> None:
    turns: list[Any] = []
    append_turn(turns, "user", [{"text": "a"}])
    append_turn(turns, "user", [{"text": "b"}])
    append_turn(turns, "assistant", [])
    append_turn(turns, "model", [{"text": "c"}], key="parts")
    assert turns == [{"role": "user", "content": [{"text": "a"}, {"text": "b"}]}, {"role": "model", "parts": [{"text": "c"}]}]


def test_append_turn_does_not_alias_the_callers_list() -> None:
    turns: list[Any] = []
    blocks = [{"text": "a"}]
    append_turn(turns, "user", blocks)
    append_turn(turns, "user", [{"text": "b"}])
    assert blocks == [{"text": "a"}]


def test_lookup_finish_reason() -> None:
    assert lookup_finish_reason(None, CLAUDE_STOP_REASONS) is None
    assert lookup_finish_reason("tool_use", CLAUDE_STOP_REASONS) == "tool_calls"
    assert lookup_finish_reason("something_new", CLAUDE_STOP_REASONS) == "stop"
