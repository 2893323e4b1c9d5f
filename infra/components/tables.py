"""DynamoDB tables, exactly as declared in ``llm_mesh.stores.dynamodb.tables.TABLES``."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.components.audit import AuditTrailResources
from llm_mesh.stores.dynamodb.tables import TABLES, TableSpec

_KEY_TYPES = {"S": dynamodb.AttributeType.STRING, "N": dynamodb.AttributeType.NUMBER}

# What the store adapter does: item reads and writes, conditional updates
# (reserve/settle), transactions (which need the per-item actions), index queries and
# DescribeTable for /health. Deliberately no Scan, no table management, no wildcards.
DATA_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
)

APPEND_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:DescribeTable",
)


class MeshTables(Construct):
    """On-demand tables with point-in-time recovery, KMS encryption and TTL where set."""

    def __init__(self, scope: Construct, construct_id: str, specs: tuple[TableSpec, ...] = TABLES) -> None:
        super().__init__(scope, construct_id)
        self.specs = specs
        self.tables: dict[str, dynamodb.Table] = {}
        for spec in specs:
            table = dynamodb.Table(
                self,
                spec.logical.title().replace("_", ""),
                partition_key=dynamodb.Attribute(name=spec.partition_key, type=dynamodb.AttributeType.STRING),
                sort_key=(
                    dynamodb.Attribute(name=spec.sort_key, type=_KEY_TYPES[spec.sort_key_type])
                    if spec.sort_key
                    else None
                ),
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                encryption=dynamodb.TableEncryption.AWS_MANAGED,
                time_to_live_attribute=spec.ttl_attribute,
                deletion_protection=True,
                removal_policy=RemovalPolicy.RETAIN,
            )
            for index in spec.indexes:
                table.add_global_secondary_index(
                    index_name=index.name,
                    partition_key=dynamodb.Attribute(name=index.partition_key, type=dynamodb.AttributeType.STRING),
                    sort_key=(
                        dynamodb.Attribute(name=index.sort_key, type=_KEY_TYPES[index.sort_key_type])
                        if index.sort_key
                        else None
                    ),
                    projection_type=dynamodb.ProjectionType.ALL,
                )
            self.tables[spec.logical] = table
        # The chain key and anchor bucket go with the append-only (audit) table.
        self.audit_trail = AuditTrailResources(self, "AuditTrail") if any(s.append_only for s in specs) else None

    def environment(self) -> dict[str, str]:
        """``MESH_TABLE_<LOGICAL>`` -> physical table name, for the functions."""
        env = {spec.env_var: self.tables[spec.logical].table_name for spec in self.specs}
        return env | (self.audit_trail.environment() if self.audit_trail is not None else {})

    def grant_data(self, grantee: iam.IGrantable) -> None:
        """Least privilege: DATA_ACTIONS on each table and each of its named indexes;
        append-only tables get APPEND_ACTIONS (no update, no delete)."""
        for actions, append_only in ((DATA_ACTIONS, False), (APPEND_ACTIONS, True)):
            resources: list[str] = []
            for spec in self.specs:
                if spec.append_only != append_only:
                    continue
                arn = self.tables[spec.logical].table_arn
                resources.append(arn)
                resources.extend(f"{arn}/index/{index.name}" for index in spec.indexes)
            if resources:
                iam.Grant.add_to_principal(grantee=grantee, actions=list(actions), resource_arns=resources)
            if append_only and resources and self.audit_trail is not None:
                self.audit_trail.grant_writer(grantee, resources)
