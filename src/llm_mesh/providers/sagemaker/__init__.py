"""SageMaker real-time endpoints (invoke_endpoint / invoke_endpoint_with_response_stream) via boto3."""
