"""Cost governance: prices, metering, ledger, budgets, rate limits, response cache, metrics."""
