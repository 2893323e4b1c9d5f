"""The ``costs`` section of mesh.yaml: prices, teams, budgets, rate limits, cache, metering.

One optional MeshConfig field (``costs``); absent, the cost hook is not installed.

    costs:
      apps:                       # team/project of each app, for re-billing (apps not listed: none)
        support-bot: {team: cx, project: helpdesk}
      prices:                     # overrides of the shipped table, by provider name or kind
        openai:
          gpt-4o: {input: "2.00", output: "8.00"}           # one price, in force from the beginning
        vllm:
          llama-3-70b: {instance_hour: "12.00", tokens_per_hour: 9000000}   # self-hosted
      budgets:
        - {name: cx-monthly, scope: team, match: cx, period: month, limit_usd: "500", mode: hard}
        - {name: pilot, scope: tag, match: "project=pilot", period: day, limit_usd: "5",
           mode: soft, alert_at: [0.5, 0.8, 1.0]}
      limits:
        - {scope: app, match: support-bot, requests_per_minute: 600, tokens_per_minute: 200000}
        - {scope: route, match: support-chat, requests_per_minute: 3000}
      cache:
        ttl_seconds: 3600
        routes:                   # per-route cache settings (routes not listed: exact cache, greedy only)
          support-chat: {mode: exact, temperature_any: true, ttl_seconds: 600}
          faq: {mode: semantic, threshold: 0.92, embedding_route: embed}
      metering: {default_max_output_tokens: 4096, input_margin: "1.2"}
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _decimal(value: object) -> str:
    if isinstance(value, float):
        raise ValueError("give prices as strings ('2.50'), not floats, to keep them exact")
    try:
        parsed = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a decimal number") from None
    if not parsed.is_finite() or parsed < 0:
        raise ValueError(f"{value!r} must be a finite, non-negative number")
    return str(value)


class PriceEntry(_Strict):
    """USD per million tokens, or instance-hour pricing for self-hosted endpoints."""

    effective_from: dt.date = dt.date(1970, 1, 1)
    input: str = "0"
    output: str = "0"
    cached_input: str | None = None
    cache_write: str | None = None
    request: str = Field(default="0", description="USD per request")
    embeddings: str | None = None
    instance_hour: str | None = Field(default=None, description="self-hosted: USD per instance-hour")
    tokens_per_hour: int | None = Field(default=None, ge=1, description="self-hosted: tokens served per hour")

    @field_validator("input", "output", "cached_input", "cache_write", "request", "embeddings", "instance_hour", mode="before")
    @classmethod
    def _exact(cls, value: object) -> object:
        return None if value is None else _decimal(value)

    @model_validator(mode="after")
    def _self_hosted(self) -> "PriceEntry":
        if (self.instance_hour is None) != (self.tokens_per_hour is None):
            raise ValueError("self-hosted pricing needs both instance_hour and tokens_per_hour")
        return self


# model (or glob) -> one entry or a dated list
PricesConfig = dict[str, dict[str, PriceEntry | list[PriceEntry]]]


class AppCostInfo(_Strict):
    team: str | None = Field(default=None, max_length=128)
    project: str | None = Field(default=None, max_length=128)


class BudgetConfig(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    scope: Literal["app", "team", "tag", "global"] = "app"
    match: str = Field(default="*", description="app or team name, or 'key=value' for a tag; '*' for every one")
    apps: list[str] | None = Field(
        default=None,
        description="tag budgets: the apps whose spend this budget governs. Another app sending the tag cannot "
                    "draw on it, and a listed app is charged to it even when it leaves the tag off",
    )
    period: Literal["day", "month"] = "month"
    limit_usd: str
    mode: Literal["hard", "soft"] = "hard"
    alert_at: tuple[float, ...] = Field(default=(0.8, 1.0), description="fractions of the limit that raise alerts")
    fail_open: bool = Field(default=False, description="admit requests when the budget store is unreachable")

    @field_validator("limit_usd", mode="before")
    @classmethod
    def _exact(cls, value: object) -> object:
        return _decimal(value)

    @model_validator(mode="after")
    def _tag_match(self) -> "BudgetConfig":
        if self.scope == "tag" and "=" not in self.match:
            raise ValueError("a tag budget matches 'key=value'")
        return self


class LimitConfig(_Strict):
    scope: Literal["app", "route"] = "app"
    match: str = "*"
    requests_per_minute: int | None = Field(default=None, ge=1)
    tokens_per_minute: int | None = Field(default=None, ge=1)
    fail_open: bool = True


class RouteCacheConfig(_Strict):
    mode: Literal["off", "exact", "semantic"] = "exact"
    temperature_any: bool = Field(default=False, description="cache answers sampled with temperature > 0 too")
    ttl_seconds: int | None = Field(default=None, ge=1, le=30 * 86400)
    threshold: float = Field(default=0.92, gt=0, le=1, description="semantic: cosine similarity to reuse")
    embedding_route: str | None = Field(default=None, description="semantic: route that embeds (default: built-in hashing embedder)")
    max_entries: int = Field(default=500, ge=1, le=10_000, description="semantic: newest entries compared per app")


class CacheConfig(_Strict):
    enabled: bool = True
    ttl_seconds: int = Field(default=3600, ge=1, le=30 * 86400)
    routes: dict[str, RouteCacheConfig] = Field(default_factory=dict)
    default: RouteCacheConfig = RouteCacheConfig()


class MeteringConfig(_Strict):
    default_max_output_tokens: int = Field(default=4096, ge=1, description="worst case when max_tokens is absent")
    input_margin: str = Field(default="1.2", description="prompt-token estimate multiplier for reservations")
    max_tags: int = Field(default=16, ge=0, le=64)
    max_tag_length: int = Field(default=128, ge=1, le=512)


class CostConfig(_Strict):
    apps: dict[str, AppCostInfo] = Field(default_factory=dict)
    prices: PricesConfig = Field(default_factory=dict)
    budgets: tuple[BudgetConfig, ...] = ()
    limits: tuple[LimitConfig, ...] = ()
    cache: CacheConfig | None = None
    metering: MeteringConfig = MeteringConfig()
    ledger: bool = Field(default=True, description="write a cost record per call")

    @model_validator(mode="after")
    def _unique_budgets(self) -> "CostConfig":
        names = [b.name for b in self.budgets]
        if len(names) != len(set(names)):
            raise ValueError("budget names must be unique")
        return self


def check_references(config: object) -> list[str]:
    """Problems with names the ``costs`` section uses (apps, routes), as "path: message" lines."""
    costs: CostConfig | None = getattr(config, "costs", None)
    if costs is None:
        return []
    apps, routes = getattr(config, "apps", {}), getattr(config, "routes", {})
    teams = {info.team for info in costs.apps.values() if info.team}
    problems = [f"costs.apps.{name}: unknown app" for name in costs.apps if name not in apps]
    for index, budget in enumerate(costs.budgets):
        if budget.scope == "app" and budget.match != "*" and budget.match not in apps:
            problems.append(f"costs.budgets.{index}.match: unknown app {budget.match!r}")
        if budget.scope == "team" and budget.match != "*" and budget.match not in teams:
            problems.append(f"costs.budgets.{index}.match: no app belongs to team {budget.match!r} (costs.apps)")
    for index, limit in enumerate(costs.limits):
        known = apps if limit.scope == "app" else routes
        if limit.match != "*" and limit.match not in known:
            problems.append(f"costs.limits.{index}.match: unknown {limit.scope} {limit.match!r}")
    if costs.cache is not None:
        for name, settings in costs.cache.routes.items():
            if name not in routes:
                problems.append(f"costs.cache.routes.{name}: unknown route")
            if settings.embedding_route is not None and settings.embedding_route not in routes:
                problems.append(f"costs.cache.routes.{name}.embedding_route: unknown route {settings.embedding_route!r}")
    return problems
