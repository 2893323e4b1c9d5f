"""The ``agents`` section of mesh.yaml: tools and agent definitions.

::

    agents:
      max_delegation_depth: 2
      tools:
        handbook:   {kind: knowledge_base, knowledge_base: handbook, top_k: 4}
        orders:     {kind: sql, sqlite: data/orders.db, tables: [orders, customers], max_rows: 200}
        weather:
          kind: http
          url: https://api.weather.example/v1/forecast/{city}
          allowed_hosts: [api.weather.example]
          parameters: {type: object, properties: {city: {type: string}}, required: [city]}
        ask_expert: {kind: delegate, route: expert-chat}
      definitions:
        support:
          instructions: You answer support questions using the tools.
          route: support-chat
          tools: [handbook, orders, weather, ask_expert]
          max_steps: 6
          max_cost_usd: "0.25"
          timeout: 120

Hosts an HTTP tool may reach come from ``allowed_hosts`` here, never from the model.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal, Union
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_OBJECT_SCHEMA = {"type": "object", "properties": {}}


class _ToolBase(_Strict):
    description: str | None = None
    timeout: float = Field(default=10.0, gt=0, le=300, description="seconds per call")


class KnowledgeBaseTool(_ToolBase):
    kind: Literal["knowledge_base"]
    knowledge_base: str
    top_k: int = Field(default=4, ge=1, le=50)


class AthenaDatabase(_Strict):
    database: str
    workgroup: str = "primary"
    output_location: str | None = Field(default=None, description="s3://bucket/prefix/ for results")
    catalog: str = "AwsDataCatalog"


class RdsDataDatabase(_Strict):
    resource_arn: str
    secret_arn: str
    database: str | None = None


class SqlTool(_ToolBase):
    kind: Literal["sql"]
    sqlite: str | None = Field(default=None, description="path of a SQLite file, opened read-only")
    athena: AthenaDatabase | None = None
    rds_data: RdsDataDatabase | None = None
    tables: tuple[str, ...] = Field(min_length=1, description="the only tables a query may read")
    max_rows: int = Field(default=200, ge=1, le=10_000)
    max_result_bytes: int = Field(default=64_000, ge=256, le=5_000_000)

    @model_validator(mode="after")
    def _one_backend(self) -> "SqlTool":
        given = [name for name in ("sqlite", "athena", "rds_data") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("a sql tool needs exactly one of sqlite, athena or rds_data")
        return self

    @property
    def backend(self) -> str:
        return "sqlite" if self.sqlite else "athena" if self.athena else "rds_data"


class HttpAuth(_Strict):
    header: str = Field(default="Authorization", pattern=r"^[A-Za-z0-9-]+$")
    prefix: str = Field(default="", description="e.g. 'Bearer '")
    secret: Any = Field(description="a reference ({env: VAR} or {secret: NAME}), never the value")

    @field_validator("secret")
    @classmethod
    def _reference(cls, value: Any) -> Any:
        from llm_mesh.config.base import SecretRef

        return SecretRef.model_validate(value)


class HttpTool(_ToolBase):
    kind: Literal["http"]
    url: str = Field(description="https URL; {name} placeholders are filled (URL-quoted) from the arguments")
    method: Literal["GET", "POST"] = "GET"
    allowed_hosts: tuple[str, ...] = Field(min_length=1)
    parameters: dict[str, Any] = Field(default_factory=lambda: dict(_OBJECT_SCHEMA), description="JSON schema")
    headers: dict[str, str] = Field(default_factory=dict, description="static, non-secret headers")
    auth: HttpAuth | None = None
    max_response_bytes: int = Field(default=64_000, ge=256, le=5_000_000)

    @model_validator(mode="after")
    def _host_allowed(self) -> "HttpTool":
        parts = urlsplit(self.url.replace("{", "").replace("}", ""))
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("url must be an absolute http(s) URL")
        if parts.username or parts.password:
            raise ValueError("url must not carry credentials")
        if "{" in self.url.split("//", 1)[1].split("/", 1)[0]:
            raise ValueError("placeholders are allowed in the path and query only, never in the host")
        if parts.hostname.lower() not in {h.lower() for h in self.allowed_hosts}:
            raise ValueError(f"host {parts.hostname!r} is not in allowed_hosts")
        if self.parameters.get("type", "object") != "object":
            raise ValueError("parameters must be a JSON schema of type object")
        for name in self.headers:
            if name.lower() in {"authorization", "api-key", "x-api-key", "proxy-authorization", "cookie"}:
                raise ValueError(f"header {name!r} carries a credential; use auth with a reference")
        return self


class DelegateTool(_ToolBase):
    kind: Literal["delegate"]
    route: str | None = None
    agent: str | None = None
    timeout: float = Field(default=120.0, gt=0, le=900)

    @model_validator(mode="after")
    def _one_target(self) -> "DelegateTool":
        if (self.route is None) == (self.agent is None):
            raise ValueError("a delegate tool needs exactly one of route or agent")
        return self


ToolConfig = Annotated[
    Union[KnowledgeBaseTool, SqlTool, HttpTool, DelegateTool], Field(discriminator="kind")
]


class AgentDefinition(_Strict):
    description: str | None = None
    instructions: str = ""
    route: str
    tools: tuple[str, ...] = ()
    apps: tuple[str, ...] | Literal["*"] | None = Field(
        default=None, description="apps that may run this agent; default: apps that may use its route"
    )
    max_steps: int = Field(default=8, ge=1, le=100, description="model calls per run")
    max_cost_usd: str = Field(default="1.00", description="decimal string; the run stops once it is spent")
    timeout: float = Field(default=300.0, gt=0, le=86_400, description="seconds per run")
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_parallel_tools: int = Field(default=4, ge=1, le=40)

    @field_validator("max_cost_usd", mode="before")
    @classmethod
    def _decimal(cls, value: object) -> str:
        if isinstance(value, float):
            raise ValueError("give max_cost_usd as a string ('0.50'), not a float")
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a decimal amount") from None
        if not amount.is_finite() or amount <= 0:
            raise ValueError("max_cost_usd must be a positive amount")
        return str(value)

    def may_run(self, app: str, app_may_use_route: bool) -> bool:
        if self.apps is None:
            return app_may_use_route
        return self.apps == "*" or app in self.apps


class AgentsSection(_Strict):
    tools: dict[str, ToolConfig] = Field(default_factory=dict)
    definitions: dict[str, AgentDefinition] = Field(default_factory=dict)
    max_delegation_depth: int = Field(default=2, ge=0, le=5)
    sync_wait_seconds: float = Field(
        default=25.0, gt=0, le=900,
        description="a sync run answers 202 with a poll_url once it has run this long (API Gateway ends requests at 29 s)",
    )

    def problems(self, routes: Any, knowledge_bases: Any = None) -> list[str]:
        """Cross-references into the rest of the config, as ``path: message`` lines."""
        out: list[str] = []
        for name, agent in self.definitions.items():
            if agent.route not in routes:
                out.append(f"agents.definitions.{name}.route: unknown route {agent.route!r}")
            for tool in agent.tools:
                if tool not in self.tools:
                    out.append(f"agents.definitions.{name}.tools: unknown tool {tool!r}")
        for name, tool in self.tools.items():
            if isinstance(tool, DelegateTool):
                if tool.route is not None and tool.route not in routes:
                    out.append(f"agents.tools.{name}.route: unknown route {tool.route!r}")
                if tool.agent is not None and tool.agent not in self.definitions:
                    out.append(f"agents.tools.{name}.agent: unknown agent {tool.agent!r}")
            if isinstance(tool, KnowledgeBaseTool) and knowledge_bases is not None:
                if tool.knowledge_base not in knowledge_bases:
                    out.append(f"agents.tools.{name}.knowledge_base: unknown knowledge base {tool.knowledge_base!r}")
        return out
