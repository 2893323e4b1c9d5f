from llm_mesh.providers.common.usage import make_usage


def test_total_is_the_sum_unless_given() -> None:
    usage = make_usage(10, 5)
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (10, 5, 15)
    assert usage.prompt_tokens_details is None and usage.completion_tokens_details is None
    assert make_usage(10, 5, total=20).total_tokens == 20


def test_details_only_when_counted() -> None:
    usage = make_usage(10, 5, cached=0, reasoning=3)
    assert usage.prompt_tokens_details is not None and usage.prompt_tokens_details.cached_tokens == 0
    assert usage.completion_tokens_details is not None and usage.completion_tokens_details.reasoning_tokens == 3
