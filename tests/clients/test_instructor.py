"""instructor in its Responses mode (``Mode.RESPONSES_TOOLS``), unchanged, against the mesh:
a pydantic model extracted from a forced function call, non-streamed, streamed as partials, and async."""

from __future__ import annotations

import asyncio

import instructor
import openai
from pydantic import BaseModel

from tests.clients.conftest import logged_calls

ASK = [{"role": "user", "content": "order 42, three units, express"}]


class Order(BaseModel):
    number: str
    quantity: int
    express: bool


def test_extracts_a_pydantic_model_through_v1_responses(mesh, fake):
    raw = openai.OpenAI(base_url=mesh.base_url, api_key=mesh.key_for("instructor"), max_retries=0)
    client = instructor.from_openai(raw, mode=instructor.Mode.RESPONSES_TOOLS)

    order = client.create(model="gpt", messages=ASK, response_model=Order, max_retries=0)
    # the fake fills the forced tool's schema: strings with the user text, integers with its word count
    assert order.model_dump() == {"number": "order 42, three units, express", "quantity": 5, "express": True}
    upstream = [r for r in fake.requests if r.path.endswith("/chat/completions")][-1].json
    assert upstream["tool_choice"] == {"type": "function", "function": {"name": "Order"}}
    assert upstream["tools"][0]["function"]["parameters"]["required"] == ["number", "quantity", "express"]

    partials = list(client.create_partial(model="gpt", messages=ASK, response_model=Order, max_retries=0))
    assert len(partials) > 1 and partials[-1].model_dump() == order.model_dump()

    async def extract_async() -> Order:
        async_raw = openai.AsyncOpenAI(base_url=mesh.base_url, api_key=mesh.key_for("instructor"), max_retries=0)
        async_client = instructor.from_openai(async_raw, mode=instructor.Mode.RESPONSES_TOOLS)
        return await async_client.create(model="gpt", messages=ASK, response_model=Order, max_retries=0)

    assert asyncio.run(extract_async()).model_dump() == order.model_dump()
    assert logged_calls(mesh, "instructor", at_least=3) == [
        ("responses", "gpt", False, 200), ("responses", "gpt", True, 200), ("responses", "gpt", False, 200)]
