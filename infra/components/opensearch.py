"""Knowledge bases on AWS: an OpenSearch Serverless vector collection, its index, and S3 ingestion.

Created only when mesh.yaml declares a knowledge base with ``store.kind: opensearch``:
- a VECTORSEARCH collection with its encryption policy (AWS-owned key), network policy and a
  data access policy naming only the gateway, ingest and index-creator roles (the gateway
  roles may read and describe, the ingest role may also write);
- the vector index (one per knowledge base, faiss/hnsw cosinesimil, ``opensearch_dsl.index_body``)
  created at deploy time by a custom resource (``functions/kb_ingest/handler.create_index``,
  opensearch-py from the shared layer);
- an S3 bucket (SSE-S3, TLS only, versioned, public access blocked, server access logs in a
  second bucket) whose uploads and deletes under ``kb/<name>/`` trigger the ingest function.
The functions find the collection through ``MESH_OPENSEARCH_ENDPOINT``. IAM grants name
actions one by one (``aoss:APIAccessAll`` on the collection, ``s3:GetObject`` on ``kb/*``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from aws_cdk import Acknowledgment, CustomResource, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_opensearchserverless as aoss
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.components.functions import (ARCHITECTURE, LOG_RETENTION, RUNTIME, TRACING, acknowledge_tracing,
                                        observability_env, secret_arns)
from llm_mesh.config import ConfigError
from llm_mesh.aws.deploy_checks import index_dimensions
from llm_mesh.kb.stores.opensearch import ENDPOINT_ENV

READ_PERMISSIONS = ["aoss:ReadDocument", "aoss:DescribeIndex"]
WRITE_PERMISSIONS = ["aoss:ReadDocument", "aoss:WriteDocument", "aoss:DescribeIndex", "aoss:CreateIndex", "aoss:UpdateIndex"]


def opensearch_knowledge_bases(config: Any) -> dict[str, Any]:
    return {n: kb for n, kb in (config.knowledge_bases or {}).items() if kb.store.kind == "opensearch"}



class KnowledgeBaseInfra(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stack: Any, config_path: Path, build_dir: Path,
                 kbs: dict[str, Any]) -> None:
        super().__init__(scope, construct_id)
        from layers.build import stage_function
        from infra.mesh_stack import secret_names

        self.collection_name = re.sub(r"[^a-z0-9-]", "-", f"{stack.stack_name.lower()}-kb")[:32]
        collection_resource = f"collection/{self.collection_name}"
        encryption = aoss.CfnSecurityPolicy(self, "Encryption", name=f"{self.collection_name}-enc"[:32], type="encryption",
                                            policy=json.dumps({"Rules": [{"ResourceType": "collection", "Resource": [collection_resource]}],
                                                               "AWSOwnedKey": True}))
        # Public endpoint on purpose: Lambda functions outside a VPC reach it; every request is still
        # SigV4-signed and allowed only to the principals of the data access policy below. A VPC
        # endpoint (AllowFromPublic false + SourceVPCEs) is the choice for VPC-attached deployments.
        network = aoss.CfnSecurityPolicy(self, "Network", name=f"{self.collection_name}-net"[:32], type="network",
                                         policy=json.dumps([{"Rules": [{"ResourceType": "collection", "Resource": [collection_resource]}],
                                                             "AllowFromPublic": True}]))
        self.collection = aoss.CfnCollection(self, "Collection", name=self.collection_name, type="VECTORSEARCH",
                                             description="LLM mesh knowledge bases (vectors)")
        self.collection.node.add_dependency(encryption, network)
        endpoint = self.collection.attr_collection_endpoint

        gateway = stack.functions
        secrets = secret_arns(Stack.of(self), secret_names(stack.mesh_config))
        code = lambda_.Code.from_asset(str(stage_function("kb_ingest", config_path, build_dir)))
        self.ingest_function = self._function("Ingest", "handler.handler", code, gateway.shared_layer,
                                              "LLM mesh knowledge-base ingestion (S3 uploads)", Duration.minutes(15), 2048,
                                              {**stack.tables.environment(), ENDPOINT_ENV: endpoint, "MESH_HOME": "aws",
                                               "MESH_CONFIG": "/var/task/mesh.yaml", **observability_env("llm-mesh-kb", self)})
        stack.tables.grant_data(self.ingest_function.role)
        if secrets:
            self.ingest_function.add_to_role_policy(iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"], resources=secrets))
        self.index_function = self._function("IndexCreator", "handler.create_index", code, gateway.shared_layer,
                                             "LLM mesh: creates the knowledge-base vector indexes at deploy time",
                                             Duration.minutes(2), 512, observability_env("llm-mesh-kb-index", self))

        # Agent runs retrieve through the same routes as the gateway: their task function reads too.
        agents = getattr(stack, "agents", None)
        querying = [gateway.buffered, gateway.streaming] + ([agents.task_function] if agents is not None else [])
        readers = [function.role for function in querying]
        writers = [self.ingest_function.role, self.index_function.role]
        for role in readers + writers:
            role.add_to_principal_policy(iam.PolicyStatement(actions=["aoss:APIAccessAll"], resources=[self.collection.attr_arn]))
        for function in querying:
            function.add_environment(ENDPOINT_ENV, endpoint)
        index_resource = f"index/{self.collection_name}/*"
        data_policy = Stack.of(self).to_json_string([
            {"Description": "gateway: read", "Principal": [r.role_arn for r in readers],
             "Rules": [{"ResourceType": "index", "Resource": [index_resource], "Permission": READ_PERMISSIONS}]},
            {"Description": "ingest and index creation: write", "Principal": [r.role_arn for r in writers],
             "Rules": [{"ResourceType": "index", "Resource": [index_resource], "Permission": WRITE_PERMISSIONS},
                       {"ResourceType": "collection", "Resource": [collection_resource],
                        "Permission": ["aoss:DescribeCollectionItems"]}]},
        ])
        access = aoss.CfnAccessPolicy(self, "DataAccess", name=f"{self.collection_name}-data"[:32], type="data", policy=data_policy)

        self.indexes: dict[str, CustomResource] = {}
        for name, kb in sorted(kbs.items()):
            index = CustomResource(self, f"Index{re.sub(r'[^A-Za-z0-9]', '', name.title())}",
                                   service_token=self.index_function.function_arn, resource_type="Custom::MeshVectorIndex",
                                   properties={"Endpoint": endpoint, "Index": str(kb.store.options.get("index") or f"mesh-kb-{name}"),
                                               "Dimensions": str(index_dimensions(name, kb)),
                                               "Hybrid": str(bool(kb.store.options.get("hybrid", False))).lower(),
                                               "VectorWeight": str(kb.store.options.get("vector_weight", 0.7))})
            index.node.add_dependency(access)
            index.node.add_dependency(self.collection)
            self.indexes[name] = index

        self.access_logs = s3.Bucket(self, "AccessLogs", encryption=s3.BucketEncryption.S3_MANAGED, enforce_ssl=True,
                                     block_public_access=s3.BlockPublicAccess.BLOCK_ALL, versioned=True,
                                     object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
                                     removal_policy=RemovalPolicy.RETAIN)
        self.bucket = s3.Bucket(self, "Documents", encryption=s3.BucketEncryption.S3_MANAGED, enforce_ssl=True,
                                block_public_access=s3.BlockPublicAccess.BLOCK_ALL, versioned=True,
                                server_access_logs_bucket=self.access_logs, server_access_logs_prefix="documents/",
                                removal_policy=RemovalPolicy.RETAIN)
        self.ingest_function.add_to_role_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[self.bucket.arn_for_objects("kb/*")]))
        self.ingest_dlq = self._dead_letters()
        for event in (s3.EventType.OBJECT_CREATED, s3.EventType.OBJECT_REMOVED):
            self.bucket.add_event_notification(event, s3n.LambdaDestination(self.ingest_function), s3.NotificationKeyFilter(prefix="kb/"))
        self._acknowledge()

    def _function(self, name: str, handler: str, code: lambda_.Code, layer: lambda_.ILayerVersion, description: str,
                  timeout: Duration, memory: int, environment: dict[str, str]) -> lambda_.Function:
        log_group = logs.LogGroup(self, f"{name}Logs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY)
        role = iam.Role(self, f"{name}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=description)
        log_group.grant_write(role)
        function = lambda_.Function(self, name, description=description, runtime=RUNTIME, architecture=ARCHITECTURE, code=code,
                                    handler=handler, layers=[layer], memory_size=memory, timeout=timeout,
                                    environment=environment, role=role, log_group=log_group, tracing=TRACING)
        acknowledge_tracing(function)
        return function

    def _dead_letters(self) -> sqs.Queue:
        """S3 invokes the ingest function asynchronously: an event that fails every retry lands here."""
        queue = sqs.Queue(self, "IngestDeadLetters", encryption=sqs.QueueEncryption.SQS_MANAGED,
                          enforce_ssl=True, retention_period=Duration.days(14))
        self.ingest_function.configure_async_invoke(on_failure=destinations.SqsDestination(queue),
                                                    retry_attempts=2, max_event_age=Duration.hours(6))
        return queue

    def _acknowledge(self) -> None:
        for function in (self.ingest_function, self.index_function):
            _ack(function, "AwsSolutions-L1", "Pinned to python3.12 with the shared layer's cp312 wheels (layers/build.py).")
        _ack(self.access_logs, "AwsSolutions-S1", "This bucket receives the documents bucket's server access logs; "
                                                  "logging it to itself would loop.")
        _ack(self.ingest_dlq, "AwsSolutions-SQS3", "This queue is the ingest function's on-failure destination "
                                                   "(a dead-letter queue itself); an alarm watches its depth.")
        bucket_arn = Stack.of(self).get_logical_id(self.bucket.node.default_child)
        _ack(self.ingest_function.role, f"AwsSolutions-IAM5[Resource::<{bucket_arn}.Arn>/kb/*]",
             "The ingest function reads any object under the kb/ prefix it is notified about: one action, one prefix.")
        # CDK's BucketNotificationsHandler (a singleton function CDK adds for S3 notifications).
        stack = Stack.of(self)
        handler = stack.node.try_find_child("BucketNotificationsHandler050a0587b7544547bf325f094a3db834")
        if handler is not None:
            _ack(handler, "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
                 "CDK's own bucket-notification handler, run once at deploy time; it writes only its logs.")
            _ack(handler, "AwsSolutions-IAM5[Resource::*]",
                 "CDK's bucket-notification handler needs s3:PutBucketNotification, which it scopes at run time.")


def _ack(scope: Construct, rule: str, reason: str) -> None:
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))


def build_knowledge_bases(stack: Any, *, config_path: Path | str, build_dir: Path | str | None) -> KnowledgeBaseInfra | None:
    """The knowledge-base component, or None when no knowledge base uses OpenSearch."""
    kbs = opensearch_knowledge_bases(stack.mesh_config)
    if not kbs:
        return None
    problems = []
    for name, kb in kbs.items():
        try:
            index_dimensions(name, kb)
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError(str(config_path), problems)
    from layers.build import DEFAULT_BUILD_DIR

    return KnowledgeBaseInfra(stack, "KnowledgeBases", stack=stack, config_path=Path(config_path),
                              build_dir=Path(build_dir) if build_dir is not None else DEFAULT_BUILD_DIR, kbs=kbs)
