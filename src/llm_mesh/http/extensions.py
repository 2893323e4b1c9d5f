"""Further inbound APIs mounted on the same app: ``module:mount`` paths, each
``mount(app, runtime)`` adding its routes. One module per inbound API."""

from __future__ import annotations

EXTENSIONS: tuple[str, ...] = (
    "llm_mesh.http.anthropic_messages:mount",
    "llm_mesh.http.responses:mount",
    "llm_mesh.http.completions:mount",
    "llm_mesh.http.management:mount",
    "llm_mesh.http.registry:mount",
    "llm_mesh.http.costs:mount",
    "llm_mesh.http.governance:mount",
    "llm_mesh.http.knowledge:mount",
    "llm_mesh.http.prompts:mount",
    "llm_mesh.http.agents:mount",
    "llm_mesh.http.console:mount",
    "llm_mesh.http.metrics:mount",
)
