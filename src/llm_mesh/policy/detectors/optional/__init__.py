"""Optional detectors for what patterns cannot find (names, addresses...): Presidio,
Amazon Comprehend DetectPiiEntities, Amazon Bedrock Guardrails ApplyGuardrail.

Each is ``optional = True``: when it fails (service down, package missing, timeout)
the policy's ``fail_mode`` decides — ``open`` skips it (recorded in
``decisions.detector_errors``), ``closed`` refuses the request (503
``policy_check_unavailable``). Their entity types are mapped to the mesh's names
(``EMAIL``, ``PHONE``, ``CREDIT_CARD``, ``US_SSN``, ``IBAN``, ``IP_ADDRESS``) or kept
as given (``PERSON``, ``ADDRESS``...), which the policy's ``default_action`` handles.
boto3 and presidio are imported only inside these modules, and only when used.
"""

from __future__ import annotations

from typing import Any, Sequence

from llm_mesh.policy.detectors.optional.remote import COMMON_TYPES, RemoteDetector, mesh_type  # noqa: F401  (re-exported)

def _boto_client(service: str, region: str | None, timeout: float) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(service, region_name=region,
                        config=Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 1}))


def build_optional_detectors(configs: Sequence[Any], home: str = "local", clients: dict[str, Any] | None = None) -> list[Any]:
    """Detectors for a policy's ``governance.detectors`` entries; ``clients`` injects boto3 clients (tests)."""
    clients = clients or {}
    out: list[Any] = []
    for cfg in configs:
        if cfg.kind == "presidio":
            from llm_mesh.policy.detectors.optional.presidio import PresidioDetector

            out.append(PresidioDetector(language=cfg.language, entity_types=cfg.entity_types, min_score=cfg.min_score))
        elif cfg.kind == "comprehend":
            from llm_mesh.policy.detectors.optional.comprehend import ComprehendPiiDetector

            client = clients.get("comprehend") or _LazyClient("comprehend", cfg.region, cfg.timeout)
            out.append(ComprehendPiiDetector(client, language=cfg.language, entity_types=cfg.entity_types, min_score=cfg.min_score))
        elif cfg.kind == "bedrock_guardrail":
            from llm_mesh.policy.detectors.optional.bedrock_guardrail import BedrockGuardrailDetector

            client = clients.get("bedrock-runtime") or _LazyClient("bedrock-runtime", cfg.region, cfg.timeout)
            out.append(BedrockGuardrailDetector(client, cfg.guardrail_id, cfg.guardrail_version,
                                                entity_types=cfg.entity_types, min_score=cfg.min_score))
    return out


class _LazyClient:
    """Creates the boto3 client on first use, so building a policy never touches AWS
    (and a missing boto3 is a detector failure the policy's fail_mode handles)."""

    def __init__(self, service: str, region: str | None, timeout: float) -> None:
        self._args = (service, region, timeout)
        self._client: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            self._client = _boto_client(*self._args)
        return getattr(self._client, name)
