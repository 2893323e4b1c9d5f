"""Options for the ``sagemaker`` kind."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PayloadFormat = Literal["tgi", "vllm_openai", "lmi"]
PromptTemplate = Literal["chatml", "llama3", "mistral", "plain"]


class SageMakerOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    region: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[a-z]+)+-\d+$")
    endpoint_name: str | None = Field(
        default=None,
        pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$",
        max_length=63,
        description="the SageMaker endpoint; default: the route target's model name",
    )
    endpoint_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        description="VPC endpoint or test double; configuration only",
    )
    payload_format: PayloadFormat = Field(
        default="tgi",
        description="tgi: Hugging Face TGI {inputs, parameters}; lmi: DJL LMI rolling-batch schema; "
        "vllm_openai: an OpenAI chat completions body (vLLM / LMI chat schema)",
    )
    inference_component: str | None = Field(default=None, max_length=63)
    prompt_template: PromptTemplate = Field(
        default="chatml", description="how chat messages become a prompt for tgi and lmi payloads"
    )
    tools: bool = Field(default=True, description="vllm_openai only: the served model handles OpenAI tools")
    vision: bool = False
    max_pool_connections: int | None = Field(default=None, ge=1, le=10_000)
    read_timeout: float | None = Field(default=None, gt=0, le=900)
    stream_buffer: int = Field(default=64, ge=1, le=4096)
    context_window: int | None = Field(default=None, ge=1)
