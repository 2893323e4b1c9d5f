"""Mistral AI La Plateforme: OpenAI-like chat completions and embeddings."""
