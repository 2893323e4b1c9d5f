"""AWS Bedrock Runtime provider (Converse, ConverseStream, InvokeModel embeddings) via boto3."""
