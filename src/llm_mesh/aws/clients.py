"""boto3 clients for core modules that reach an AWS service only on the AWS home (the audit
chain key in Secrets Manager, anchors in S3): the SDK import stays in the adapter layer."""

from __future__ import annotations

from typing import Any


def aws_client(service: str) -> Any:
    import boto3

    return boto3.client(service)
