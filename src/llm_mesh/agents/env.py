"""What the task handlers run against: the mesh (MeshService), the runs store,
secrets, knowledge-base search and the redaction policy for stored steps.

The embedded runner builds one from the local runtime; the agent-task Lambda
builds one from the AWS runtime. Handlers see nothing else.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from llm_mesh.agents import runner
from llm_mesh.agents.config import AgentsSection, SqlTool
from llm_mesh.agents.ports import Delegate
from llm_mesh.agents.store import AgentRunStore, MemoryAgentRunStore
from llm_mesh.agents.tools import KnowledgeSearch, sql_executor

logger = logging.getLogger("llm_mesh.agents")


class StepRedactor:
    """Applies the policy bound to the app (else the route, else the default) to text kept
    in run records and steps: one-way redaction; a block rule withholds the text."""

    def __init__(self, config: Any) -> None:
        self._config = config
        self._engines: dict[str, Any] = {}
        self._lock = threading.Lock()

    def policy_for(self, app: str, route: str) -> str | None:
        governance = getattr(self._config, "governance", None)
        bindings = getattr(governance, "bindings", None)
        if bindings is None:
            return None
        return bindings.apps.get(app) or bindings.routes.get(route) or bindings.default

    def _engine(self, name: str) -> Any:
        with self._lock:
            engine = self._engines.get(name)
            if engine is None:
                from llm_mesh.policy import PolicyEngine

                engine = PolicyEngine.from_config(self._config.policies[name], name=name)
                self._engines[name] = engine
            return engine

    def screen(self, text: str, app: str, route: str) -> str:
        """Redacted text; raises the policy's PolicyBlocked when a block rule fires."""
        name = self.policy_for(app, route)
        if not name or not text:
            return text
        redacted, _ = self._engine(name).apply_to_text(text, None, direction="output", context={"app": app})
        return redacted

    def for_record(self, text: str, app: str, route: str) -> str:
        try:
            return self.screen(text, app, route)
        except Exception as exc:  # a block rule (or a failing detector): keep nothing of the text
            return f"[withheld by policy: {type(exc).__name__}]"


@dataclass
class AgentEnv:
    config: Any  # MeshConfig
    service: Any  # MeshService
    store: AgentRunStore = field(default_factory=MemoryAgentRunStore)
    secrets: Any = None
    knowledge: KnowledgeSearch | None = None
    redactor: StepRedactor | None = None
    delegate: Delegate | None = None  # the delegation port: the runner's, set by env_from_runtime
    _sql: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.redactor is None:
            self.redactor = StepRedactor(self.config)
        problems = self.section.problems(self.config.routes, getattr(self.config, "knowledge_bases", None))
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def section(self) -> AgentsSection:
        return getattr(self.config, "agents", None) or AgentsSection()

    def sql_executor(self, tool: SqlTool) -> Any:
        key = tool.model_dump_json()
        if key not in self._sql:
            self._sql[key] = sql_executor(tool)
        return self._sql[key]

    def record_text(self, text: str, app: str, route: str) -> str:
        assert self.redactor is not None
        return self.redactor.for_record(text, app, route)


def default_store(stores: Any) -> AgentRunStore:
    """The runs store that goes with a store bundle (SQLite file or DynamoDB tables)."""
    db = getattr(stores, "_db", None)
    if db is not None:
        from llm_mesh.stores.sqlite.agents import SqliteAgentRunStore

        return SqliteAgentRunStore(db)
    names = getattr(stores, "table_names", None)
    if names and names.get("agent_runs"):
        from llm_mesh.stores.dynamodb.agents import DynamoAgentRunStore

        return DynamoAgentRunStore(stores.client, names["agent_runs"])
    logger.warning("no agent runs table: runs are kept in memory only")
    return MemoryAgentRunStore()


class KnowledgeBasesSearch:
    """KnowledgeSearch over the mesh's knowledge-base registry (llm_mesh.kb), with its access control."""

    def __init__(self, registry: Any) -> None:
        self.registry = registry

    async def search(self, knowledge_base: str, query: str, *, k: int, app: str) -> list[dict[str, Any]]:
        from llm_mesh.errors import MeshError

        try:
            kb = self.registry.for_reader(knowledge_base, app)
        except MeshError as error:
            raise PermissionError(error.message) from None
        hits = await kb.search(query, k)
        return [{**hit.summary(), "text": hit.chunk.text} for hit in hits]


def knowledge_search(runtime: Any) -> KnowledgeSearch | None:
    """Search over the runtime's knowledge bases (the registry the RAG hook holds), when any are configured."""
    try:
        from llm_mesh.kb.rag import find_rag_hook
    except ImportError:
        return None
    hook = find_rag_hook(runtime.service)
    registry = getattr(hook, "knowledge_bases", None) or getattr(hook, "registry", None)
    return KnowledgeBasesSearch(registry) if registry is not None else None


def env_from_runtime(runtime: Any, *, store: AgentRunStore | None = None, knowledge: KnowledgeSearch | None = None) -> AgentEnv:
    secrets = getattr(getattr(runtime.service, "providers", None), "_secrets", None)
    return AgentEnv(
        config=runtime.config,
        service=runtime.service,
        store=store or default_store(runtime.stores),
        secrets=secrets,
        knowledge=knowledge or knowledge_search(runtime),
        delegate=runner.delegate,
    )
