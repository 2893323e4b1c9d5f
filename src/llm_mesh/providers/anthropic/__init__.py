"""The ``anthropic`` provider kind: Anthropic's Messages API (POST /v1/messages)."""
