"""The ``prompts`` and ``experiments`` sections of mesh.yaml, and the prompt file format.

    prompts:
      directory: prompts            # files in the repo: prompts/<name>/v<N>.yaml, deployed with the config
      labels:                       # where labels start; they then move through the admin API / CLI
        support-answer: {production: 1, staging: 2}
    experiments:
      tone-test:
        prompt: support-answer
        label: production           # requests for support-answer (or @production) take part
        variants: {a: {version: 1, weight: 50}, b: {version: 2, weight: 50}}
        metric: feedback            # feedback | latency | cost

A version file:

    description: Answer a support question
    route: gpt
    parameters: {temperature: 0.2}
    variables: {product: {description: product name}, tone: {default: friendly}}
    messages:
      - {role: system, content: "You support {{product}}. Be {{tone}}."}
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

PARAMETERS = ("temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "seed", "presence_penalty",
              "frequency_penalty", "response_format", "n")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PromptVariable(_Strict):
    description: str | None = None
    default: str | None = None


class PromptMessage(_Strict):
    role: Literal["system", "developer", "user", "assistant"]
    content: str = Field(min_length=1)


class PromptSpec(_Strict):
    """One immutable version of a prompt template."""

    description: str | None = None
    route: str = Field(min_length=1)
    messages: tuple[PromptMessage, ...] = Field(min_length=1)
    variables: dict[str, PromptVariable] = Field(default_factory=dict)
    parameters: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_parameters(self) -> "PromptSpec":
        unknown = set(self.parameters) - set(PARAMETERS)
        if unknown:
            raise ValueError(f"unknown parameters {sorted(unknown)}; allowed: {', '.join(PARAMETERS)}")
        return self


class PromptsConfig(_Strict):
    directory: str = Field(default="prompts", description="relative to the working directory or $MESH_PROMPTS_DIR")
    labels: dict[str, dict[str, int]] = Field(default_factory=dict, description="initial labels: {prompt: {label: version}}")
    default_label: str = "production"


class VariantConfig(_Strict):
    version: int = Field(ge=1)
    weight: float = Field(default=1.0, gt=0)


class ExperimentConfig(_Strict):
    prompt: str
    label: str = "production"
    variants: dict[str, VariantConfig] = Field(min_length=2)
    metric: Literal["feedback", "latency", "cost"] = "feedback"
    enabled: bool = True


def check_references(config: Any) -> list[str]:
    problems = []
    for name, experiment in (getattr(config, "experiments", None) or {}).items():
        if getattr(config, "prompts", None) is None:
            problems.append(f"experiments.{name}: needs a prompts section")
    return problems
