"""Constructs of the mesh stack, one concern per file.

Named ``components`` (not ``constructs``) so it never shadows the ``constructs``
library when ``infra/`` is on sys.path. Later capabilities add their own files here
(self-hosted model endpoints, dashboards and alarms, the agent state machine) and
wire them in ``infra/mesh_stack.py``.
"""
