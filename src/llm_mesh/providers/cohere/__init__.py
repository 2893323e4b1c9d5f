"""Cohere: v2 Chat and Embed APIs."""
