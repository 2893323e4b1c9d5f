"""Detector families; each returns :class:`~llm_mesh.policy.findings.Finding` spans."""

from llm_mesh.policy.detectors.base import Detector, ScanContext, detect_text
from llm_mesh.policy.detectors.card import CardDetector, card_brand, is_card_number
from llm_mesh.policy.detectors.credentials import CredentialDetector, CredentialRule
from llm_mesh.policy.detectors.custom import CustomPattern, CustomPatternDetector
from llm_mesh.policy.detectors.denylist import DenyListDetector, DenyListSource, StaticDenyList
from llm_mesh.policy.detectors.email import EmailDetector
from llm_mesh.policy.detectors.iban import IbanDetector
from llm_mesh.policy.detectors.ip import IpDetector
from llm_mesh.policy.detectors.national_id import NationalIdDetector, NationalIdSpec, register_national_id
from llm_mesh.policy.detectors.phone import PhoneDetector

__all__ = [
    "CardDetector",
    "CredentialDetector",
    "CredentialRule",
    "CustomPattern",
    "CustomPatternDetector",
    "DenyListDetector",
    "DenyListSource",
    "Detector",
    "EmailDetector",
    "IbanDetector",
    "IpDetector",
    "NationalIdDetector",
    "NationalIdSpec",
    "PhoneDetector",
    "ScanContext",
    "StaticDenyList",
    "card_brand",
    "detect_text",
    "is_card_number",
    "register_national_id",
]
