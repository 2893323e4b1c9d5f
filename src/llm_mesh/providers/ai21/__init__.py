"""AI21 Studio: Jamba chat completions (OpenAI-like)."""
