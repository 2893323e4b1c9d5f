"""The one price of a request, as every capability reads it.

The settle stage (the cost hook) prices a request once and puts it in
``ctx.cost_usd``; the gateway's ledger, prompt experiments, agent runs and the
audit record all read that. Without a ``costs:`` section nothing settles, and
the same price table prices the provider's usage here, so no capability keeps a
formula of its own.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from llm_mesh.cost import metering
from llm_mesh.cost.prices import PriceTable


def settled_cost(prices: PriceTable, config: Any, ctx: Any, usage: Any) -> Decimal:
    if ctx.cost_usd is not None:
        return ctx.cost_usd
    if not ctx.provider or usage is None:
        return Decimal(0)
    provider = config.providers.get(ctx.provider)
    kind = provider.kind if provider is not None else ctx.provider
    return prices.cost(metering.from_usage(usage), ctx.provider, kind, ctx.model, ctx.received_at).total
