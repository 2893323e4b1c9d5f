#!/bin/bash
# Streaming gateway Lambda: started by the AWS Lambda Web Adapter's wrapper
# (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap, handler "run.sh"). The adapter turns API
# Gateway events (invoked with InvokeWithResponseStream, AWS_LWA_INVOKE_MODE=
# response_stream) into HTTP requests to this server on 127.0.0.1:$PORT and streams
# the response body back as it is written (server-sent events for chat streams).
# The shared layer puts llm_mesh and its dependencies under /opt/python.
set -euo pipefail
export PATH="$PATH:$LAMBDA_TASK_ROOT/bin"
export PYTHONPATH="${PYTHONPATH:-}:/opt/python:$LAMBDA_RUNTIME_DIR"
# build_streaming_app = lambda_entry.build_aws_app + Powertools JSON logging (llm_mesh.aws.observability).
exec python -m uvicorn --factory llm_mesh.aws.observability:build_streaming_app \
  --host 127.0.0.1 --port "${PORT:-8080}" --no-access-log --timeout-keep-alive 900
