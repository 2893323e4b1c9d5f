"""Tamper-evident audit trail: the hash chain (``chain``) and store verification (``verify``).
The stores themselves live with the other adapters (stores/sqlite/audit.py, stores/dynamodb/audit.py)."""
