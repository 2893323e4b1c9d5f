"""Prices as data, and the cost of a call in exact decimal arithmetic.

The shipped table (prices.yaml) is keyed by provider kind and model (exact name
first, then globs in file order, so list specific globs before general ones).
Each model has dated entries; the newest whose ``effective_from`` is not after
the request's UTC date applies. mesh.yaml's ``costs.prices`` (keyed by provider
name, then kind) and the registry's ``ModelEntry.prices`` override it.

Self-hosted endpoints (vLLM, TGI, SageMaker) have no per-token list price: they
are priced by instance-hour amortised over the tokens the instance serves in an
hour at its expected utilisation, ``price per million = instance_hour /
tokens_per_hour * 1e6``, the same for input and output tokens. Set
``tokens_per_hour`` from a load test at the utilisation you run at (idle
capacity is then spread over the tokens actually served).

Amounts are ``Decimal``. A call's total is quantized to 1e-9 USD (nano-dollars);
ledgers and budgets add those integers, so aggregates equal sums exactly.
"""

from __future__ import annotations

import datetime as dt
import functools
import fnmatch
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable, Mapping

import yaml

from llm_mesh.cost.config import PriceEntry

MILLION = Decimal(1_000_000)
NANO = Decimal("0.000000001")
ZERO = Decimal(0)


@dataclass(frozen=True)
class Metered:
    """Billable quantities of one call."""

    input_tokens: int = 0  # prompt tokens billed at the input price (cached ones excluded)
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    embedding_tokens: int = 0
    requests: int = 1
    estimated: bool = False

    @property
    def prompt_tokens(self) -> int:
        return self.input_tokens + self.cached_input_tokens + self.cache_write_tokens

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.output_tokens + self.embedding_tokens


@dataclass(frozen=True)
class _Parts:
    input: Decimal = ZERO
    output: Decimal = ZERO
    cached_input: Decimal = ZERO
    cache_write: Decimal = ZERO
    request: Decimal = ZERO
    embeddings: Decimal = ZERO


@dataclass(frozen=True)
class UnitPrices(_Parts):
    """USD per million tokens (request fee: USD per request)."""

    effective_from: dt.date = dt.date(1970, 1, 1)

    @classmethod
    def of(cls, entry: PriceEntry) -> "UnitPrices":
        if entry.instance_hour is not None and entry.tokens_per_hour is not None:
            per_million = Decimal(entry.instance_hour) * MILLION / Decimal(entry.tokens_per_hour)
            return cls(input=per_million, output=per_million, cached_input=per_million, cache_write=per_million,
                       request=Decimal(entry.request), embeddings=per_million, effective_from=entry.effective_from)
        given_input = Decimal(entry.input)
        return cls(
            input=given_input,
            output=Decimal(entry.output),
            cached_input=Decimal(entry.cached_input) if entry.cached_input is not None else given_input,
            cache_write=Decimal(entry.cache_write) if entry.cache_write is not None else given_input,
            request=Decimal(entry.request),
            embeddings=Decimal(entry.embeddings) if entry.embeddings is not None else given_input,
            effective_from=entry.effective_from,
        )


@dataclass(frozen=True)
class CostBreakdown(_Parts):
    """USD per component (exact) and the total quantized to 1e-9 USD."""

    total: Decimal = ZERO  # quantized to 1e-9 USD
    priced: bool = True  # False: no price known for the model (total 0)

    @property
    def nano_usd(self) -> int:
        return int(self.total / NANO)


def quantize(amount: Decimal) -> Decimal:
    return amount.quantize(NANO, rounding=ROUND_HALF_UP)


def price_cost(usage: Metered, prices: UnitPrices | None) -> CostBreakdown:
    if prices is None:
        return CostBreakdown(priced=False, total=quantize(ZERO))
    parts = {
        "input": usage.input_tokens * prices.input / MILLION,
        "output": usage.output_tokens * prices.output / MILLION,
        "cached_input": usage.cached_input_tokens * prices.cached_input / MILLION,
        "cache_write": usage.cache_write_tokens * prices.cache_write / MILLION,
        "request": usage.requests * prices.request,
        "embeddings": usage.embedding_tokens * prices.embeddings / MILLION,
    }
    return CostBreakdown(**parts, total=quantize(sum(parts.values(), ZERO)))


def _as_date(at: float | dt.date | dt.datetime | None) -> dt.date:
    if at is None:
        return dt.datetime.now(dt.timezone.utc).date()
    if isinstance(at, dt.datetime):
        return at.astimezone(dt.timezone.utc).date() if at.tzinfo else at.date()
    if isinstance(at, dt.date):
        return at
    return dt.datetime.fromtimestamp(float(at), dt.timezone.utc).date()


def _entries(raw: Any) -> list[PriceEntry]:
    items = raw if isinstance(raw, list) else [raw]
    entries = [item if isinstance(item, PriceEntry) else PriceEntry.model_validate(item) for item in items]
    return sorted(entries, key=lambda e: e.effective_from)


def _parse_table(raw: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, list[PriceEntry]]]:
    return {provider: {model: _entries(value) for model, value in models.items()} for provider, models in raw.items()}


@lru_cache(maxsize=1)
def shipped_table() -> dict[str, dict[str, list[PriceEntry]]]:
    text = resources.files("llm_mesh.cost").joinpath("prices.yaml").read_text(encoding="utf-8")
    return _parse_table(yaml.safe_load(text))


def _find(models: Mapping[str, list[PriceEntry]], model: str) -> list[PriceEntry] | None:
    if model in models:
        return models[model]
    for pattern, entries in models.items():
        if any(c in pattern for c in "*?[") and fnmatch.fnmatchcase(model, pattern):
            return entries
    return None


def _in_force(entries: Iterable[PriceEntry], day: dt.date) -> PriceEntry | None:
    found = None
    for entry in entries:  # sorted by effective_from
        if entry.effective_from <= day:
            found = entry
    return found


class PriceTable:
    """Layers of prices, most specific first: registry, mesh.yaml, shipped table."""

    def __init__(
        self,
        overrides: Mapping[str, Mapping[str, Any]] | None = None,
        registry: Mapping[tuple[str, str], UnitPrices] | None = None,
        shipped: Mapping[str, Mapping[str, list[PriceEntry]]] | None = None,
    ) -> None:
        self._overrides = _parse_table(overrides or {})
        self._registry = dict(registry or {})
        self._shipped = shipped if shipped is not None else shipped_table()
        self._memo: dict[tuple[str, str, str, dt.date], UnitPrices | None] = {}

    @classmethod
    def from_config(cls, config: Any) -> "PriceTable":
        """From a MeshConfig: ``costs.prices`` overrides and the registry's ModelEntry.prices."""
        costs = getattr(config, "costs", None)
        registry = {}
        for entry in config.models.values():
            if entry.prices is not None:
                registry[(entry.provider, entry.model)] = UnitPrices.of(
                    PriceEntry(input=entry.prices.input, output=entry.prices.output, cached_input=entry.prices.cached_input)
                )
        return cls(overrides=costs.prices if costs is not None else None, registry=registry)

    def unit_prices(self, provider: str, kind: str, model: str, at: float | dt.date | dt.datetime | None = None) -> UnitPrices | None:
        day = _as_date(at)
        memo_key = (provider, kind, model, day)
        if memo_key in self._memo:
            return self._memo[memo_key]
        found: UnitPrices | None = self._registry.get((provider, model))
        if found is None:
            for layer, key in ((self._overrides, provider), (self._overrides, kind), (self._shipped, kind)):
                entries = _find(layer.get(key, {}), model)
                entry = _in_force(entries, day) if entries else None
                if entry is not None:
                    found = UnitPrices.of(entry)
                    break
        if len(self._memo) > 10_000:
            self._memo.clear()
        self._memo[memo_key] = found
        return found

    def cost(self, usage: Metered, provider: str, kind: str, model: str, at: float | dt.date | dt.datetime | None = None) -> CostBreakdown:
        return price_cost(usage, self.unit_prices(provider, kind, model, at))

    def blended(self, provider: str, kind: str, model: str) -> Decimal | None:
        """Input + output USD per million tokens now: the routing planner's ``lowest_cost`` key."""
        prices = self.unit_prices(provider, kind, model)
        return None if prices is None else prices.input + prices.output


@functools.lru_cache(maxsize=1)
def shipped_prices() -> PriceTable:
    """The price table shipped with the mesh (read once; it never changes at run time)."""
    return PriceTable()


def cost_of(usage: Metered, provider_kind: str, model: str, at: float | dt.date | dt.datetime | None = None) -> CostBreakdown:
    """Cost of a call at the shipped prices in force on ``at``'s UTC date."""
    return shipped_prices().cost(usage, provider_kind, provider_kind, model, at)


def planner_price_lookup(config: Any, table: PriceTable | None = None) -> Any:
    """``RoutePlanner(price=...)``: blended USD per million tokens of (provider name, model)."""
    table = table if table is not None else PriceTable.from_config(config)

    def lookup(provider: str, model: str) -> Decimal | None:
        provider_config = config.providers.get(provider)
        return table.blended(provider, provider_config.kind if provider_config else provider, model)

    return lookup
