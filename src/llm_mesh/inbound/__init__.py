"""Inbound APIs other than OpenAI's: each translates its wire format to the canonical
(OpenAI-shaped) models and back, so every provider serves every inbound API."""
