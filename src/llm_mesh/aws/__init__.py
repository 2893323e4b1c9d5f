"""AWS adapters of the mesh core: Secrets Manager, SigV4 client signing, the Lambda entry.

This is the only place inside ``llm_mesh`` (with the DynamoDB store adapter) allowed
to import boto3/botocore; the core stays AWS-free.
"""
