"""Options for the ``openai`` kind (OpenAI itself and any compatible server)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class OpenAIOptions(BaseModel):
    """``responses``: how requests to the mesh's ``/v1/responses`` reach this provider.
    ``translate`` (default): as chat completions, like every other provider. ``native``: the
    upstream speaks ``/v1/responses`` itself and gets a Responses request, built from the
    request as the pipeline left it (routing, authorisation, budget admission, the policy on
    every text, tool description and schema, all as on the translated path); its ``usage``
    (input/output tokens) is what the ledger and request log bill. The mesh keeps the
    conversation state: ``previous_response_id`` is expanded by the mesh and the upstream
    always gets ``store: false``. A native call that fails falls over to the route's next
    target on the translated path. Requests to ``/v1/chat/completions`` are unaffected."""

    model_config = ConfigDict(extra="forbid")

    organization: str | None = None
    project: str | None = None
    embedding_dimensions: bool = Field(
        default=True, description="whether the upstream honours the 'dimensions' embeddings parameter"
    )
    context_window: int | None = Field(default=None, ge=1)
    responses: Literal["translate", "native"] = Field(
        default="translate", description="native: send /v1/responses requests to the upstream's own /v1/responses"
    )
