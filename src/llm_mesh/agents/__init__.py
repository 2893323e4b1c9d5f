"""Agents: multi-step runs (model calls, tool calls, delegation) inside the mesh.

``config`` (the ``agents:`` section), ``tools`` (knowledge base, read-only SQL,
HTTP, delegation), ``handlers`` (the task handlers shared by the embedded runner and
the Step Functions Lambda tasks), ``runner`` (embedded), ``machine`` (the state
machine definition), ``store`` (runs and steps).
"""
