"""Options for the ``echo`` test double."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class EchoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    call_tools: Literal["forced", "auto"] = Field(
        default="forced",
        description="forced: call a tool only when tool_choice forces one; auto: also call the first offered tool "
        "whenever the last message is the user's (its required string arguments get the user's text), then answer "
        "with the tool's result. 'auto' lets an agent demo run its tools offline.",
    )
