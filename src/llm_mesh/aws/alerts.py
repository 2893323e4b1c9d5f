"""Policy alerts to admins over Amazon SNS.

Events are value-free (entity types, counts, actions, app/route/request id). Publishing
happens on a daemon thread so a slow SNS call never delays a request; on Lambda call
``flush()`` before the invocation ends (the hook does not, to keep latency flat: an
alert left in a frozen instance goes out on its next invocation). boto3 is imported
here only, when the sink is built.
"""

from __future__ import annotations

import collections
import json
import logging
import threading
import time
from typing import Any

from llm_mesh.policy.actions import AlertEvent

logger = logging.getLogger("llm_mesh.policy.alert")


class SnsAlertSink:
    def __init__(self, topic_arn: str, client: Any = None, *, also_log: bool = True, interval: float = 0.05) -> None:
        if client is None:
            import boto3

            client = boto3.client("sns", region_name=topic_arn.split(":")[3])
        self.topic_arn = topic_arn
        self.client = client
        self.also_log = also_log
        self.failures = 0
        self._pending: collections.deque[AlertEvent] = collections.deque()
        self._interval = interval
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name="mesh-sns-alerts", daemon=True)
        self._thread.start()

    def emit(self, event: AlertEvent) -> None:
        if self.also_log:
            logger.warning("policy alert", extra={"mesh_alert": event.to_dict()})
        self._pending.append(event)

    def _publish(self, event: AlertEvent) -> None:
        body = event.to_dict()
        subject = f"LLM mesh alert: {event.policy} ({'blocked' if event.blocked else event.direction})"[:100]
        self.client.publish(
            TopicArn=self.topic_arn,
            Subject=subject,
            Message=json.dumps(body, sort_keys=True),
            MessageAttributes={
                "policy": {"DataType": "String", "StringValue": event.policy},
                "blocked": {"DataType": "String", "StringValue": str(event.blocked).lower()},
            },
        )

    def _run(self) -> None:
        while True:
            time.sleep(self._interval)
            while self._pending:
                self._idle.clear()
                event = self._pending.popleft()
                try:
                    self._publish(event)
                except Exception:
                    self.failures += 1
                    logger.exception("SNS alert publish failed (policy %s)", event.policy)
            self._idle.set()

    def flush(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while (self._pending or not self._idle.is_set()) and time.monotonic() < deadline:
            time.sleep(self._interval / 4)
