"""Shared test configuration. Plugins are listed here; add yours to the list."""

pytest_plugins = [
    "tests.fixtures.dynamodb_local",
]
