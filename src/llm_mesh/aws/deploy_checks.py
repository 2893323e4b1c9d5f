"""Checks a config must pass to be deployed on AWS, shared by ``mesh validate --home aws``
and ``cdk synth`` so the two refuse the same files with the same "path: message" lines.

Schema validation (``load_config``) answers "is this a well-formed mesh.yaml"; these
answer "would it work in Lambda": no upstream a function can never reach (loopback,
link-local; private ranges only with ``allow_private_upstreams`` for VPC targets), no
``{env: …}`` credentials (the stack sets no such variables: use ``{secret: NAME}``),
every cross-section check synth runs (agents, OpenSearch index dimensions).
``principal_warnings`` explains IAM principals that can never match a caller.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Iterator
from urllib.parse import urlsplit

from pydantic import BaseModel

LOCAL_MODEL_DIMENSIONS = 384  # all-MiniLM-L6-v2, the local embedding default
_URL_OPTIONS = ("endpoint_url",)  # kind-specific options that name an upstream (bedrock, sagemaker)


def index_dimensions(name: str, kb: Any) -> int:
    """Vector size of an OpenSearch knowledge base's index (synth creates the index)."""
    given = kb.store.options.get("dimensions")
    if given:
        return int(given)
    if kb.embedding.kind == "hashing":
        return kb.embedding.dimensions
    if kb.embedding.kind == "local" and not kb.embedding.model:
        return LOCAL_MODEL_DIMENSIONS
    raise ValueError(f"knowledge_bases.{name}.store.options.dimensions: required to create the OpenSearch index "
                     "(the embedding route's vector size)")


def _host_problem(url: str, allow_private: bool) -> str | None:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return f"{url} is a loopback address, which a Lambda function cannot reach"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None  # a DNS name: resolved at run time, not judged here
    if address.is_loopback or address.is_link_local or address.is_unspecified:
        return f"{url} is a loopback or link-local address, which a Lambda function cannot reach"
    if address.is_private and not allow_private:
        return (f"{url} is a private address; a deployed function reaches it only from a VPC "
                "(allow it with allow_private_upstreams: cdk synth -c allowPrivateUpstreams=true, "
                "mesh validate --allow-private-upstreams)")
    return None


def _env_references(value: Any, path: str) -> Iterator[str]:
    from llm_mesh.config.schema import SecretRef

    if isinstance(value, SecretRef):
        if value.env is not None:
            yield path
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _env_references(getattr(value, name), f"{path}.{name}" if path else name)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _env_references(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _env_references(item, f"{path}.{index}")


def upstream_problems(config: Any, *, allow_private_upstreams: bool = False) -> list[str]:
    problems = []
    for name, provider in config.providers.items():
        urls = [("base_url", provider.base_url)] + [(f"options.{k}", provider.options.get(k)) for k in _URL_OPTIONS]
        for field, url in urls:
            problem = _host_problem(url, allow_private_upstreams) if isinstance(url, str) else None
            if problem:
                problems.append(f"providers.{name}.{field}: {problem}")
    return problems


def deploy_problems(config: Any, *, allow_private_upstreams: bool = False) -> list[str]:
    """Every reason this (schema-valid) config must not be deployed, as "path: message" lines."""
    problems = upstream_problems(config, allow_private_upstreams=allow_private_upstreams)
    for path in _env_references(config, ""):
        problems.append(f"{path}: an {{env: …}} credential is never set on AWS; "
                        "store it in Secrets Manager and reference it with {secret: NAME}")
    problems.extend(config.agents.problems(config.routes))
    for name, kb in (config.knowledge_bases or {}).items():
        if kb.store.kind == "opensearch":
            try:
                index_dimensions(name, kb)
            except ValueError as exc:
                problems.append(str(exc))
    return problems


_ARN = re.compile(r"^arn:aws[a-z-]*:(?P<service>iam|sts)::(?P<account>\d{12}|aws)?:(?P<resource>.+)$")


def principal_warnings(config: Any) -> list[str]:
    """Principals in ``apps.*.principals`` that no SigV4 caller can ever present."""
    out = []
    for app_name, app in config.apps.items():
        for arn in app.principals:
            reason = _unmappable(arn)
            if reason:
                out.append(f"apps.{app_name}.principals: {arn} {reason}")
    return out


def _unmappable(arn: str) -> str | None:
    match = _ARN.match(arn)
    if match is None:
        return "is not an IAM or STS principal ARN (arn:aws:iam::ACCOUNT:role/NAME)"
    resource = match["resource"]
    if "*" in resource or "?" in resource:
        return "contains a wildcard; principals are matched exactly"
    kind = resource.split("/", 1)[0]
    if kind == "assumed-role":
        return ("is one session of a role; sessions change per caller, so map the role "
                "(arn:aws:iam::ACCOUNT:role/NAME) instead")
    if kind in ("group", "policy", "instance-profile", "oidc-provider", "saml-provider"):
        return f"names an IAM {kind}, which never signs a request; map the role or user instead"
    if kind == "root" or resource == "root":
        return "is the account root, which should not call the mesh"
    if kind not in ("role", "user", "federated-user"):
        return f"has an unknown resource type {kind!r}"
    return None
