"""What keeps the audit trail honest on AWS: the chain key and the anchor bucket, and the
audit-only IAM statements of the functions.

- The chain key: a Secrets Manager secret with a generated value; the functions read it
  (``MESH_AUDIT_KEY_SECRET``) and seal every record with HMAC-SHA256 under it.
- The anchors: an S3 bucket with Object Lock in compliance mode (default retention), where
  the functions put the chain heads (``MESH_AUDIT_ANCHOR_BUCKET``). Nobody, root included,
  can delete or shorten an anchor before its retention ends.
- IAM: on the audit table the functions are only granted reads and PutItem (tables.py);
  here an explicit Deny of every item-changing action backs that up against any wider grant.
  PutItem could still replace an item (IAM has no condition key for ConditionExpression),
  which is why the code only puts with ``attribute_not_exists`` and the anchors exist.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from llm_mesh.audit.anchors import BUCKET_ENV
from llm_mesh.audit.keys import KEY_SECRET_ENV

ANCHOR_PREFIX = "audit-anchors/"
ANCHOR_RETENTION = Duration.days(400)

# Never allowed on the audit table, whatever else a role is granted.
DENIED_TABLE_ACTIONS = (
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
    "dynamodb:DeleteTable",
    "dynamodb:UpdateTable",
)
# Never allowed on the anchor bucket: removing, unlocking or re-configuring what was anchored.
DENIED_ANCHOR_ACTIONS = (
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:PutObjectRetention",
    "s3:PutObjectLegalHold",
    "s3:BypassGovernanceRetention",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketVersioning",
    "s3:PutBucketPolicy",
    "s3:DeleteBucket",
)


def _ack(scope: Construct, rule: str, reason: str) -> None:
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))


class AuditTrailResources(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.chain_key = secretsmanager.Secret(
            self,
            "ChainKey",
            description="LLM mesh audit chain HMAC key (records are sealed with it)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True, include_space=False
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.anchors = s3.Bucket(
            self,
            "Anchors",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            versioned=True,
            object_lock_enabled=True,
            object_lock_default_retention=s3.ObjectLockRetention.compliance(ANCHOR_RETENTION),
            removal_policy=RemovalPolicy.RETAIN,
        )
        _ack(self.chain_key, "AwsSolutions-SMG4", "Rotation would orphan the key older records are sealed with; "
             "a new key is added by id (records name their key) instead.")
        _ack(self.anchors, "AwsSolutions-S1", "Holds only small chain-head anchors, write-once under Object Lock; "
             "every put is in CloudTrail.")

    def environment(self) -> dict[str, str]:
        return {KEY_SECRET_ENV: self.chain_key.secret_arn, BUCKET_ENV: self.anchors.bucket_name}

    def grant_writer(self, grantee: iam.IGrantable, table_resources: list[str]) -> None:
        """Read the key, put anchors; explicitly never change the table or the anchors."""
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["secretsmanager:GetSecretValue"], resource_arns=[self.chain_key.secret_arn]
        )
        objects = self.anchors.arn_for_objects(f"{ANCHOR_PREFIX}*")
        iam.Grant.add_to_principal(grantee=grantee, actions=["s3:PutObject"], resource_arns=[objects])
        policy = grantee.grant_principal
        policy.add_to_principal_policy(
            iam.PolicyStatement(effect=iam.Effect.DENY, actions=list(DENIED_TABLE_ACTIONS), resources=table_resources)
        )
        policy.add_to_principal_policy(
            iam.PolicyStatement(
                effect=iam.Effect.DENY,
                actions=list(DENIED_ANCHOR_ACTIONS),
                resources=[self.anchors.bucket_arn, self.anchors.arn_for_objects("*")],
            )
        )
        if isinstance(grantee, Construct):
            logical = Stack.of(self).get_logical_id(self.anchors.node.default_child)
            _ack(grantee, f"AwsSolutions-IAM5[Resource::<{logical}.Arn>/{ANCHOR_PREFIX}*]",
                 "Anchors are new objects under one prefix (one per chain head); PutObject only.")
