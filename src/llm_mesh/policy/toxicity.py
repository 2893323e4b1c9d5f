"""Toxicity screening of answers: the policy's ``toxicity:`` option and the classifier interface.

A policy turns it on with::

    policies:
      support:
        toxicity:
          kind: comprehend            # word_list (offline default) | comprehend | bedrock_guardrail | local
          action: block               # or alert: let the answer through, raise a value-free alert
          threshold: 0.6              # a category scoring at least this fires the action
          categories: [HATE_SPEECH, INSULT, VIOLENCE_OR_THREAT]   # all if unset
          fail_mode: closed           # the policy's fail_mode if unset
          region: eu-west-1

Every classifier answers :class:`ToxicityScores` in one vocabulary (Amazon Comprehend's
toxic content types, plus Bedrock Guardrails' ``MISCONDUCT``): the AWS adapters live in
:mod:`llm_mesh.aws.toxicity` (the only place that knows boto3), a local model plugs in as any
object with ``classify(text) -> ToxicityScores`` (``extras["toxicity_classifier"]``), and
:class:`WordListClassifier` is the offline default: a hit on a listed term scores 1.0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llm_mesh.policy.detectors.denylist import compile_terms, find_terms

ToxicCategory = Literal[
    "GRAPHIC", "HARASSMENT_OR_ABUSE", "HATE_SPEECH", "INSULT", "PROFANITY", "SEXUAL", "VIOLENCE_OR_THREAT", "MISCONDUCT",
]
TOXIC_CATEGORIES: tuple[str, ...] = ToxicCategory.__args__  # type: ignore[attr-defined]
OVERALL = "TOXICITY"  # a classifier's overall score, the one ``categories`` unset also looks at


class ToxicityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["word_list", "comprehend", "bedrock_guardrail", "local"] = "word_list"
    action: Literal["block", "alert"] = "block"
    threshold: float = Field(default=0.5, ge=0.0, le=1.0, description="score at which a category fires the action")
    categories: list[ToxicCategory] | None = Field(default=None, description="only these categories fire (all if unset)")
    terms: dict[ToxicCategory, list[str]] = Field(
        default_factory=dict, description="word_list: category -> terms (case-insensitive, whole words)"
    )
    fail_mode: Literal["open", "closed"] | None = Field(
        default=None, description="a classifier failure: skip the check (open) or refuse the answer (closed); "
        "the policy's fail_mode if unset",
    )
    region: str | None = None
    endpoint_url: str | None = Field(default=None, description="a VPC endpoint for the AWS service")
    language: str = Field(default="en", description="comprehend: the language code of the answers")
    guardrail_id: str | None = None
    guardrail_version: str = "DRAFT"
    timeout: float = Field(default=2.0, gt=0, le=30, description="seconds per call to a remote classifier")
    max_sentence_chars: int = Field(default=1000, ge=64, le=100_000, description="streamed: longest unit screened at once")

    @model_validator(mode="after")
    def _complete(self) -> ToxicityConfig:
        if self.kind == "bedrock_guardrail" and not self.guardrail_id:
            raise ValueError("toxicity kind bedrock_guardrail needs guardrail_id")
        if self.kind == "word_list" and not any(self.terms.values()):
            raise ValueError("toxicity kind word_list needs terms ({CATEGORY: [term, ...]})")
        return self


@dataclass(frozen=True)
class ToxicityScores:
    """One text's scores, 0..1 per category (absent = 0), and an overall score."""

    categories: Mapping[str, float] = field(default_factory=dict)
    overall: float = 0.0

    @classmethod
    def worst(cls, many: list[ToxicityScores]) -> ToxicityScores:
        """The highest score per category over several pieces of one text."""
        merged: dict[str, float] = {}
        for scores in many:
            for name, value in scores.categories.items():
                merged[name] = max(merged.get(name, 0.0), value)
        return cls(merged, max((s.overall for s in many), default=0.0))

    def fired(self, threshold: float, categories: list[str] | None) -> dict[str, float]:
        """Categories at or over ``threshold`` (only ``categories`` when given; else the overall score too)."""
        hits = {c: s for c, s in self.categories.items() if s >= threshold and (categories is None or c in categories)}
        if categories is None and not hits and self.overall >= threshold:
            hits[OVERALL] = self.overall
        return hits


@runtime_checkable
class ToxicityClassifier(Protocol):
    """Scores a text. ``remote`` classifiers are called off the event loop; raising means failure."""

    name: str
    remote: bool

    def classify(self, text: str) -> ToxicityScores: ...


class WordListClassifier:
    """The offline default: any listed term (whole word, any case) scores 1.0 for its category."""

    name = "word_list"
    remote = False

    def __init__(self, terms: Mapping[str, list[str]]) -> None:
        self._lists = [(category, compiled) for category, words in terms.items()
                       if (compiled := compile_terms(words)) is not None]

    def classify(self, text: str) -> ToxicityScores:
        hits = {category: 1.0 for category, compiled in self._lists if find_terms(compiled, text)}
        return ToxicityScores(hits, 1.0 if hits else 0.0)
