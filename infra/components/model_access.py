"""IAM for calling the config's models: Bedrock (Converse / ConverseStream, cross-region
inference profiles) and SageMaker endpoints named by ``sagemaker`` providers.

Scoped to what the routes and the model registry declare, per provider region:
- a foundation model id -> ``foundation-model/<id>`` in the provider's region;
- an inference profile id (``us.``, ``eu.``, ``global.`` ... prefix) -> the profile in the
  provider's region plus ``foundation-model/<id without prefix>`` in any region, because a
  cross-region profile routes the call to a region chosen by Bedrock;
- a full ARN (provisioned throughput, application profile) -> as given.
Converse needs ``bedrock:InvokeModel``, ConverseStream ``bedrock:InvokeModelWithResponseStream``.
"""

from __future__ import annotations

from typing import Any, Iterable

from aws_cdk import Acknowledgment, ArnFormat, Aws, Stack, Validations
from aws_cdk import aws_iam as iam

BEDROCK_INVOKE_ACTIONS = ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream")
SAGEMAKER_INVOKE_ACTIONS = ("sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream")
INFERENCE_PROFILE_PREFIXES = ("us.", "us-gov.", "eu.", "apac.", "ca.", "jp.", "au.", "global.")
CROSS_REGION_REASON = ("A cross-region inference profile sends each call to a region Bedrock picks, so its "
                       "foundation model is granted in every region ('*'), for exactly the declared model ids.")


def declared_models(config: Any, kind: str) -> dict[str, set[str]]:
    """provider name -> model ids the routes and the model registry use, for providers of ``kind``."""
    out: dict[str, set[str]] = {}
    pairs = [(t.provider, t.model) for route in config.routes.values() for t in route.targets if t.provider]
    pairs += [(entry.provider, entry.model) for entry in config.models.values()]
    for provider, model in pairs:
        spec = config.providers.get(provider)
        if spec is not None and spec.kind == kind and model:
            out.setdefault(provider, set()).add(model)
    return out


def _bedrock_arns(stack: Stack, region: str, model: str) -> list[str]:
    if model.startswith("arn:"):
        return [model]
    profile = next((p for p in INFERENCE_PROFILE_PREFIXES if model.startswith(p)), None)
    if profile is None:
        return [stack.format_arn(service="bedrock", region=region, account="", resource="foundation-model",
                                 resource_name=model, arn_format=ArnFormat.SLASH_RESOURCE_NAME)]
    return [
        stack.format_arn(service="bedrock", region=region, resource="inference-profile", resource_name=model,
                         arn_format=ArnFormat.SLASH_RESOURCE_NAME),
        stack.format_arn(service="bedrock", region="*", account="", resource="foundation-model",
                         resource_name=model[len(profile):], arn_format=ArnFormat.SLASH_RESOURCE_NAME),
    ]


def model_statements(stack: Stack, config: Any) -> list[iam.PolicyStatement]:
    """Least-privilege invoke statements for every Bedrock and SageMaker model the config calls."""
    bedrock: list[str] = []
    for provider, models in sorted(declared_models(config, "bedrock").items()):
        region = config.providers[provider].options.get("region") or Aws.REGION
        for model in sorted(models):
            bedrock.extend(_bedrock_arns(stack, region, model))
    endpoints: list[str] = []
    for provider, models in sorted(declared_models(config, "sagemaker").items()):
        if provider in config.self_hosted:
            continue  # the stack's own endpoints: SelfHostedEndpoints grants those (with the endpoint's real ARN)
        options = config.providers[provider].options
        names = [options["endpoint_name"]] if options.get("endpoint_name") else sorted(models)
        endpoints.extend(stack.format_arn(service="sagemaker", region=options.get("region") or Aws.REGION,
                                          resource="endpoint", resource_name=name.lower(),
                                          arn_format=ArnFormat.SLASH_RESOURCE_NAME) for name in names)
    statements = []
    if bedrock:
        statements.append(iam.PolicyStatement(actions=list(BEDROCK_INVOKE_ACTIONS), resources=sorted(set(bedrock))))
    if endpoints:
        statements.append(iam.PolicyStatement(actions=list(SAGEMAKER_INVOKE_ACTIONS), resources=sorted(set(endpoints))))
    return statements


def grant_model_access(stack: Stack, config: Any, roles: Iterable[iam.IRole]) -> None:
    """Attach the invoke statements to every role that calls models through the mesh's providers."""
    statements = model_statements(stack, config)
    cross_region = sorted({arn for s in statements for arn in s.resources if ":bedrock:*:" in arn})
    for role in roles:
        for statement in statements:
            role.add_to_principal_policy(statement)
        for arn in cross_region:
            Validations.of(role).acknowledge(Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:bedrock:*::{arn.split('::', 1)[1]}]",
                reason=CROSS_REGION_REASON))
