"""The planned GPU fleet (mesh.yaml ``fleet:`` with ``deploy: true``) as SageMaker inference components.

At synth the planner (llm_mesh.fleet.planner.plan_fleet) plans the section's traffic and
llm_mesh.fleet.deploy.deploy_document turns the plan into endpoints and components; this
construct builds exactly that document:

- per used pool: an endpoint ``<prefix>-<pool>`` whose variant has managed instance
  scaling (initial count from the plan, minimum 0 only when every model on it may scale
  to zero) and least-outstanding-requests routing, and its log group;
- per model: a Model (image, weights) and an InferenceComponent ``<prefix>-<model>`` on its
  pool's endpoint asking for the plan's tensor-parallel degree in accelerators, with the
  plan's copy count; Application Auto Scaling on the copy count (target tracking on
  invocations per copy; a scale-to-zero model also gets the documented step scaling on a
  ``NoCapacityInvocationFailures`` alarm, as the self-hosted construct does);
- one execution role for the fleet: pull from the images' ECR repositories, read the S3
  model prefixes, write the endpoints' log groups.

The gateway functions get ``sagemaker:InvokeEndpoint*`` on exactly these endpoints.
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Acknowledgment, Aws, RemovalPolicy, Stack, Validations
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from infra.components.self_hosted import ECR_PULL_ACTIONS, INVOKE_ACTIONS, LOG_RETENTION, MODEL_DIR
from llm_mesh.config.self_hosted import DLC_ACCOUNT, VARIANT_NAME, parse_image, parse_s3_uri
from llm_mesh.fleet.config import FleetSection
from llm_mesh.fleet.deploy import deploy_document
from llm_mesh.fleet.planner import plan_fleet


def _id(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.replace("_", "-").replace(".", "-").split("-"))


class FleetEndpoints(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, fleet: FleetSection,
                 grantees: Iterable[iam.IGrantable] = ()) -> None:
        super().__init__(scope, construct_id)
        self.fleet = fleet
        self.plan = plan_fleet(fleet)
        self.document = deploy_document(self.plan, fleet)
        self.role = iam.Role(self, "ExecutionRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
                             description="SageMaker execution role of the planned self-hosted fleet")
        self.endpoints: dict[str, sagemaker.CfnEndpoint] = {}
        self.components: dict[str, sagemaker.CfnInferenceComponent] = {}
        for pool, endpoint in self.document["endpoints"].items():
            self._endpoint(pool, endpoint)
            for model, component in endpoint["inference_components"].items():
                self._component(model, component, self.endpoints[pool])
        self._grant_model_access()
        for grantee in grantees:
            self.grant_invoke(grantee)
        self._acknowledge()

    def grant_invoke(self, grantee: iam.IGrantable) -> None:
        arns = [endpoint.ref for endpoint in self.endpoints.values()]  # Ref of an Endpoint is its ARN
        if arns:
            iam.Grant.add_to_principal(grantee=grantee, actions=list(INVOKE_ACTIONS), resource_arns=arns)

    def _endpoint(self, pool: str, spec: dict) -> None:
        name = spec["endpoint_name"]
        logs.LogGroup(self, f"{_id(pool)}Logs", log_group_name=f"/aws/sagemaker/Endpoints/{name}",
                      retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY).grant_write(self.role)
        variant = sagemaker.CfnEndpointConfig.ProductionVariantProperty(
            variant_name=VARIANT_NAME, instance_type=spec["instance_type"],
            initial_instance_count=spec["initial_instance_count"],
            managed_instance_scaling=sagemaker.CfnEndpointConfig.ManagedInstanceScalingProperty(
                status="ENABLED", min_instance_count=spec["min_instance_count"],
                max_instance_count=spec["max_instance_count"]),
            routing_config=sagemaker.CfnEndpointConfig.RoutingConfigProperty(routing_strategy="LEAST_OUTSTANDING_REQUESTS"),
        )
        config = sagemaker.CfnEndpointConfig(self, f"{_id(pool)}EndpointConfig", production_variants=[variant],
                                             execution_role_arn=self.role.role_arn)
        config.node.add_dependency(self.role)
        self.endpoints[pool] = sagemaker.CfnEndpoint(self, f"{_id(pool)}Endpoint", endpoint_name=name,
                                                     endpoint_config_name=config.attr_endpoint_config_name)

    def _container(self, model: str) -> sagemaker.CfnModel.ContainerDefinitionProperty:
        entry = self.fleet.models[model]
        image = parse_image(entry.image or "")
        s3 = parse_s3_uri(entry.model_id or "")
        environment = dict(entry.environment)
        environment.setdefault(image.alias.model_env if image.alias else "HF_MODEL_ID", MODEL_DIR if s3 else entry.model_id or "")
        uri = image.uri or f"{DLC_ACCOUNT}.dkr.ecr.{Aws.REGION}.{Aws.URL_SUFFIX}/{image.repository}:{image.tag}"
        source = sagemaker.CfnModel.ModelDataSourceProperty(s3_data_source=sagemaker.CfnModel.S3DataSourceProperty(
            s3_uri=_prefix(entry.model_id or ""), s3_data_type="S3Prefix", compression_type="None")) if s3 else None
        return sagemaker.CfnModel.ContainerDefinitionProperty(image=uri, environment=environment, model_data_source=source)

    def _component(self, model: str, spec: dict, endpoint: sagemaker.CfnEndpoint) -> None:
        cfn_model = sagemaker.CfnModel(self, f"{_id(model)}Model", execution_role_arn=self.role.role_arn,
                                       primary_container=self._container(model), enable_network_isolation=False)
        cfn_model.node.add_dependency(self.role)
        compute = spec["compute_resource_requirements"]
        component = sagemaker.CfnInferenceComponent(
            self, f"{_id(model)}Component", inference_component_name=spec["inference_component_name"],
            endpoint_name=endpoint.attr_endpoint_name, variant_name=VARIANT_NAME,
            specification=sagemaker.CfnInferenceComponent.InferenceComponentSpecificationProperty(
                model_name=cfn_model.attr_model_name,
                compute_resource_requirements=sagemaker.CfnInferenceComponent.InferenceComponentComputeResourceRequirementsProperty(
                    number_of_accelerator_devices_required=compute["number_of_accelerator_devices_required"],
                    min_memory_required_in_mb=compute["min_memory_required_in_mb"])),
            # a component is created with at least one copy; autoscaling takes a scale-to-zero one down
            runtime_config=sagemaker.CfnInferenceComponent.InferenceComponentRuntimeConfigProperty(
                copy_count=max(1, spec["runtime_config"]["copy_count"])),
        )
        self.components[model] = component
        self._autoscaling(model, spec, component)

    def _autoscaling(self, model: str, spec: dict, component: sagemaker.CfnInferenceComponent) -> None:
        scaling, name = spec["autoscaling"], spec["inference_component_name"]
        target = appscaling.CfnScalableTarget(
            self, f"{_id(model)}ScalableTarget", service_namespace="sagemaker",
            resource_id=f"inference-component/{name}", scalable_dimension="sagemaker:inference-component:DesiredCopyCount",
            min_capacity=scaling["min_copies"], max_capacity=scaling["max_copies"])
        target.node.add_dependency(component)
        appscaling.CfnScalingPolicy(
            self, f"{_id(model)}TargetTracking", policy_name=f"{name}-invocations", policy_type="TargetTrackingScaling",
            scaling_target_id=target.ref,
            target_tracking_scaling_policy_configuration=appscaling.CfnScalingPolicy.TargetTrackingScalingPolicyConfigurationProperty(
                target_value=float(scaling["target_invocations_per_copy"]),
                predefined_metric_specification=appscaling.CfnScalingPolicy.PredefinedMetricSpecificationProperty(
                    predefined_metric_type="SageMakerInferenceComponentInvocationsPerCopy"),
                scale_in_cooldown=300, scale_out_cooldown=60))
        if scaling["min_copies"] == 0:
            self._scale_from_zero(model, name, target)

    def _scale_from_zero(self, model: str, name: str, target: appscaling.CfnScalableTarget) -> None:
        step = appscaling.CfnScalingPolicy(
            self, f"{_id(model)}ScaleFromZero", policy_name=f"{name}-from-zero", policy_type="StepScaling",
            scaling_target_id=target.ref,
            step_scaling_policy_configuration=appscaling.CfnScalingPolicy.StepScalingPolicyConfigurationProperty(
                adjustment_type="ChangeInCapacity", metric_aggregation_type="Maximum", cooldown=60,
                step_adjustments=[appscaling.CfnScalingPolicy.StepAdjustmentProperty(
                    metric_interval_lower_bound=0, scaling_adjustment=1)]))
        cloudwatch.CfnAlarm(
            self, f"{_id(model)}NoCapacityAlarm", alarm_description=f"{name}: a request arrived while no copy runs; add one",
            namespace="AWS/SageMaker", metric_name="NoCapacityInvocationFailures",
            dimensions=[cloudwatch.CfnAlarm.DimensionProperty(name="InferenceComponentName", value=name)],
            statistic="Maximum", period=30, evaluation_periods=1, threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold", treat_missing_data="missing", alarm_actions=[step.ref])

    def _grant_model_access(self) -> None:
        stack = Stack.of(self)
        repositories = set()
        for model in self.fleet.models.values():
            image = parse_image(model.image or "")
            repositories.add(stack.format_arn(service="ecr", resource="repository", resource_name=image.repository,
                                              account=image.account or DLC_ACCOUNT, region=image.region or Aws.REGION))
            if (s3 := parse_s3_uri(model.model_id or "")) is not None:
                bucket, prefix = s3[0], _prefix(s3[1])
                self.role.add_to_policy(iam.PolicyStatement(
                    actions=["s3:GetObject"], resources=[f"arn:{Aws.PARTITION}:s3:::{bucket}/{prefix}*"]))
                self.role.add_to_policy(iam.PolicyStatement(
                    actions=["s3:ListBucket"], resources=[f"arn:{Aws.PARTITION}:s3:::{bucket}"],
                    conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}}))
        self.role.add_to_policy(iam.PolicyStatement(actions=list(ECR_PULL_ACTIONS), resources=sorted(repositories)))
        # GetAuthorizationToken has no resource-level permissions: "*" is the only valid resource.
        self.role.add_to_policy(iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]))
        self.role.add_to_policy(iam.PolicyStatement(
            actions=["cloudwatch:PutMetricData"], resources=["*"],
            conditions={"StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/Endpoints"}}))

    def _acknowledge(self) -> None:
        _ack(self.role, "AwsSolutions-IAM5[Resource::*]",
             "ecr:GetAuthorizationToken supports no resource-level permission ('*' is the only valid resource); "
             "cloudwatch:PutMetricData is limited to the /aws/sagemaker/Endpoints namespace by a condition.")
        for name, model in self.fleet.models.items():
            if (s3 := parse_s3_uri(model.model_id or "")) is not None:
                _ack(self.role, f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::{s3[0]}/{_prefix(s3[1])}*]",
                     f"Read access to the objects under fleet model {name}'s declared prefix only (the files SageMaker "
                     "downloads to /opt/ml/model); object names under the prefix are not known in advance.")


def _prefix(path: str) -> str:
    return path if path.endswith("/") else path + "/"


def _ack(scope: Construct, rule: str, reason: str) -> None:
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))
