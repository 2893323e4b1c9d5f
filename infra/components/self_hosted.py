"""Self-hosted model endpoints (mesh.yaml ``self_hosted:``) on SageMaker real-time inference.

Per entry: an execution role (pull from that image's ECR repository, read that S3
model prefix, write that endpoint's log group), a Model, an EndpointConfig, an
Endpoint and Application Auto Scaling. Two modes:

- instance mode: the variant hosts the model; target tracking on
  ``SageMakerVariantInvocationsPerInstance`` scales the instance count (min >= 1);
- inference component mode (``inference_components: true``): the variant has managed
  instance scaling and hosts a ``CfnInferenceComponent``; target tracking on
  ``SageMakerInferenceComponentInvocationsPerCopy`` scales the copy count. With
  ``scale_to_zero`` the managed minimum is 0 instances and 0 copies, and a step
  scaling policy on a ``NoCapacityInvocationFailures`` alarm brings a copy back
  when a request arrives while nothing is running (SageMaker's documented recipe).

The gateway functions get ``sagemaker:InvokeEndpoint`` and
``sagemaker:InvokeEndpointWithResponseStream`` on exactly these endpoints' ARNs.
"""

from __future__ import annotations

from typing import Iterable, Mapping

from aws_cdk import Acknowledgment, Aws, CfnRule, CfnRuleAssertion, Fn, RemovalPolicy, Stack, Validations
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from llm_mesh.config.self_hosted import (
    DLC_ACCOUNT,
    VARIANT_NAME,
    SelfHostedEndpoint,
    inference_component_name,
    parse_image,
    parse_s3_uri,
)

INVOKE_ACTIONS = ("sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream")
ECR_PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
MODEL_DIR = "/opt/ml/model"  # where SageMaker mounts ModelDataSource files
LOG_RETENTION = logs.RetentionDays.ONE_MONTH


def _construct_id(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


class SelfHostedModel(Construct):
    """One SageMaker endpoint (and its inference component, in IC mode)."""

    def __init__(self, scope: Construct, construct_id: str, *, name: str, spec: SelfHostedEndpoint) -> None:
        super().__init__(scope, construct_id)
        self.name = name
        self.spec = spec
        stack = Stack.of(self)
        image = parse_image(spec.image)

        if spec.region:
            # The stack is environment-agnostic; refuse a deploy into another region than the one
            # the gateway will call (the provider's region option comes from this entry).
            CfnRule(self, "RegionRule", assertions=[CfnRuleAssertion(
                assert_=Fn.condition_equals(Aws.REGION, spec.region),
                assert_description=f"self_hosted.{name} declares region {spec.region}; deploy this stack there",
            )])

        self.log_group = logs.LogGroup(
            self, "Logs", log_group_name=f"/aws/sagemaker/Endpoints/{name}",
            retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY,
        )
        self.role = iam.Role(
            self, "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"SageMaker execution role of self-hosted model {name}",
        )
        self._grant_model_access(stack, image)

        environment = dict(spec.environment)
        s3 = parse_s3_uri(spec.model_id)
        model_env = image.alias.model_env if image.alias else "HF_MODEL_ID"
        environment.setdefault(model_env, MODEL_DIR if s3 else spec.model_id)
        image_uri = image.uri or (
            f"{DLC_ACCOUNT}.dkr.ecr.{Aws.REGION}.{Aws.URL_SUFFIX}/{image.repository}:{image.tag}"
        )
        container = sagemaker.CfnModel.ContainerDefinitionProperty(
            image=image_uri,
            environment=environment,
            model_data_source=sagemaker.CfnModel.ModelDataSourceProperty(
                s3_data_source=sagemaker.CfnModel.S3DataSourceProperty(
                    s3_uri=spec.model_id if spec.model_id.endswith("/") else spec.model_id + "/",
                    s3_data_type="S3Prefix", compression_type="None",
                )
            ) if s3 else None,
        )
        self.model = sagemaker.CfnModel(
            self, "Model", execution_role_arn=self.role.role_arn, primary_container=container,
            enable_network_isolation=False,
        )
        self.model.node.add_dependency(self.role)  # the role's policy must exist before SageMaker uses it

        scaling = spec.autoscaling
        if spec.inference_components:
            variant = sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                variant_name=VARIANT_NAME,
                instance_type=spec.instance_type,
                initial_instance_count=spec.initial_instance_count,
                managed_instance_scaling=sagemaker.CfnEndpointConfig.ManagedInstanceScalingProperty(
                    status="ENABLED", min_instance_count=scaling.min_capacity, max_instance_count=scaling.max,
                ),
                routing_config=sagemaker.CfnEndpointConfig.RoutingConfigProperty(
                    routing_strategy="LEAST_OUTSTANDING_REQUESTS"
                ),
            )
            self.endpoint_config = sagemaker.CfnEndpointConfig(
                self, "EndpointConfig", production_variants=[variant], execution_role_arn=self.role.role_arn,
            )
        else:
            variant = sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                variant_name=VARIANT_NAME,
                model_name=self.model.attr_model_name,
                instance_type=spec.instance_type,
                initial_instance_count=spec.initial_instance_count,
            )
            self.endpoint_config = sagemaker.CfnEndpointConfig(self, "EndpointConfig", production_variants=[variant])
        self.endpoint = sagemaker.CfnEndpoint(
            self, "Endpoint", endpoint_name=name, endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
        )
        # Ref of AWS::SageMaker::Endpoint is its ARN.
        self.endpoint_arn: str = self.endpoint.ref

        self.inference_component: sagemaker.CfnInferenceComponent | None = None
        if spec.inference_components:
            compute = spec.compute
            self.inference_component = sagemaker.CfnInferenceComponent(
                self, "InferenceComponent",
                inference_component_name=inference_component_name(name),
                endpoint_name=self.endpoint.attr_endpoint_name,
                variant_name=VARIANT_NAME,
                specification=sagemaker.CfnInferenceComponent.InferenceComponentSpecificationProperty(
                    model_name=self.model.attr_model_name,
                    compute_resource_requirements=sagemaker.CfnInferenceComponent.InferenceComponentComputeResourceRequirementsProperty(
                        number_of_accelerator_devices_required=compute.accelerators or None,
                        number_of_cpu_cores_required=compute.cpus,
                        min_memory_required_in_mb=compute.memory_mb,
                    ),
                ),
                runtime_config=sagemaker.CfnInferenceComponent.InferenceComponentRuntimeConfigProperty(
                    copy_count=max(1, scaling.min_capacity)
                ),
            )
        self._autoscaling()

    def _grant_model_access(self, stack: Stack, image) -> None:  # type: ignore[no-untyped-def]
        repository_arn = stack.format_arn(
            service="ecr", resource="repository", resource_name=image.repository,
            account=image.account or DLC_ACCOUNT, region=image.region or Aws.REGION,
        )
        self.role.add_to_policy(iam.PolicyStatement(actions=list(ECR_PULL_ACTIONS), resources=[repository_arn]))
        # GetAuthorizationToken has no resource-level permissions: "*" is the only valid resource.
        self.role.add_to_policy(iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]))
        s3 = parse_s3_uri(self.spec.model_id)
        if s3:
            bucket, prefix = s3
            prefix = prefix if prefix.endswith("/") else prefix + "/"
            self.role.add_to_policy(iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[f"arn:{Aws.PARTITION}:s3:::{bucket}/{prefix}*"]))
            self.role.add_to_policy(iam.PolicyStatement(
                actions=["s3:ListBucket"], resources=[f"arn:{Aws.PARTITION}:s3:::{bucket}"],
                conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}}))
        self.log_group.grant_write(self.role)
        self.role.add_to_policy(iam.PolicyStatement(
            actions=["cloudwatch:PutMetricData"], resources=["*"],
            conditions={"StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/Endpoints"}}))

    def _autoscaling(self) -> None:
        scaling = self.spec.autoscaling
        ic = self.inference_component
        if ic is not None:
            resource_id = f"inference-component/{ic.inference_component_name}"
            dimension = "sagemaker:inference-component:DesiredCopyCount"
            metric = "SageMakerInferenceComponentInvocationsPerCopy"
        else:
            resource_id = f"endpoint/{self.name}/variant/{VARIANT_NAME}"
            dimension = "sagemaker:variant:DesiredInstanceCount"
            metric = "SageMakerVariantInvocationsPerInstance"
        # No RoleARN: Application Auto Scaling uses its SageMaker service-linked role.
        self.scalable_target = appscaling.CfnScalableTarget(
            self, "ScalableTarget", service_namespace="sagemaker", resource_id=resource_id,
            scalable_dimension=dimension, min_capacity=scaling.min_capacity, max_capacity=scaling.max,
        )
        self.scalable_target.node.add_dependency(ic if ic is not None else self.endpoint)
        self.target_tracking = self._policy(
            "TargetTracking", "invocations", "TargetTrackingScaling",
            target_tracking_scaling_policy_configuration=appscaling.CfnScalingPolicy.TargetTrackingScalingPolicyConfigurationProperty(
                target_value=float(scaling.target_invocations_per_instance),
                predefined_metric_specification=appscaling.CfnScalingPolicy.PredefinedMetricSpecificationProperty(
                    predefined_metric_type=metric
                ),
                scale_in_cooldown=scaling.scale_in_cooldown,
                scale_out_cooldown=scaling.scale_out_cooldown,
            ),
        )
        self.scale_from_zero: appscaling.CfnScalingPolicy | None = None
        if ic is not None and scaling.scale_to_zero:
            self.scale_from_zero = self._policy(
                "ScaleFromZero", "from-zero", "StepScaling",
                step_scaling_policy_configuration=appscaling.CfnScalingPolicy.StepScalingPolicyConfigurationProperty(
                    adjustment_type="ChangeInCapacity",
                    metric_aggregation_type="Maximum",
                    cooldown=scaling.scale_out_cooldown,
                    step_adjustments=[appscaling.CfnScalingPolicy.StepAdjustmentProperty(
                        metric_interval_lower_bound=0, scaling_adjustment=1)],
                ),
            )
            cloudwatch.CfnAlarm(
                self, "NoCapacityAlarm",
                alarm_description=f"{self.name}: a request arrived while no model copy runs; add one",
                namespace="AWS/SageMaker",
                metric_name="NoCapacityInvocationFailures",
                dimensions=[cloudwatch.CfnAlarm.DimensionProperty(
                    name="InferenceComponentName", value=ic.inference_component_name or "")],
                statistic="Maximum",
                period=30,
                evaluation_periods=1,
                threshold=1,
                comparison_operator="GreaterThanOrEqualToThreshold",
                treat_missing_data="missing",
                alarm_actions=[self.scale_from_zero.ref],
            )

    def _policy(self, construct_id: str, suffix: str, policy_type: str, **configuration: object) -> appscaling.CfnScalingPolicy:
        return appscaling.CfnScalingPolicy(
            self, construct_id, policy_name=f"{self.name}-{suffix}", policy_type=policy_type,
            scaling_target_id=self.scalable_target.ref, **configuration,  # type: ignore[arg-type]
        )


class SelfHostedEndpoints(Construct):
    """Every ``self_hosted`` entry of the mesh config, and invoke permissions for the gateway."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoints: Mapping[str, SelfHostedEndpoint],
        grantees: Iterable[iam.IGrantable] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        self.endpoints = {
            name: SelfHostedModel(self, _construct_id(name), name=name, spec=spec)
            for name, spec in sorted(endpoints.items())
        }
        for grantee in grantees:
            self.grant_invoke(grantee)
        if self.endpoints:
            self._acknowledge()

    def grant_invoke(self, grantee: iam.IGrantable) -> None:
        """InvokeEndpoint (and its streaming form) on exactly these endpoints; nothing when there are none.

        Any other function that calls models through the mesh's providers (e.g. agent tasks) needs this too.
        """
        arns = [endpoint.endpoint_arn for endpoint in self.endpoints.values()]
        if arns:
            iam.Grant.add_to_principal(grantee=grantee, actions=list(INVOKE_ACTIONS), resource_arns=arns)

    def _acknowledge(self) -> None:
        for name, endpoint in self.endpoints.items():
            _ack(endpoint.role, "AwsSolutions-IAM5[Resource::*]",
                 "ecr:GetAuthorizationToken supports no resource-level permission ('*' is the only valid resource); "
                 "cloudwatch:PutMetricData is limited to the /aws/sagemaker/Endpoints namespace by a condition.")
            s3 = parse_s3_uri(endpoint.spec.model_id)
            if s3:
                prefix = s3[1] if s3[1].endswith("/") else s3[1] + "/"
                _ack(endpoint.role, f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::{s3[0]}/{prefix}*]",
                     f"Read access to the objects under {name}'s declared model prefix only (the model files "
                     "SageMaker downloads to /opt/ml/model); object names under the prefix are not known in advance.")
            _ack(endpoint.model, "AwsSolutions-SM1",
                 "The endpoint runs without a customer VPC: the gateway calls it through the SageMaker runtime "
                 "API with SigV4 and IAM, and the container downloads open model weights by model id.")
            _ack(endpoint.endpoint_config, "AwsSolutions-SM2",
                 "GPU instance types with local NVMe storage (ml.g5, ml.g6, ml.p4d...) reject a KMS key on the "
                 "endpoint config; their instance storage is encrypted by the hardware (AWS documented).")


def _ack(scope: Construct, rule: str, reason: str) -> None:
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))

