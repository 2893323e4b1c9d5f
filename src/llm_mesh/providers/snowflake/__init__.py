"""Snowflake Cortex REST API: chat completions with PAT, OAuth or key-pair JWT auth."""
