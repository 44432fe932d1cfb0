"""A test job kind for worker subprocesses: POST the job to an HTTP sink with its dedupe key
as the idempotency key, then (when BADGEBRIDGE_TEST_SINK_BLOCK is set) hang before the job is
marked done, so the test can kill the worker mid-delivery.

Loaded with ``badgebridge worker --handlers tests.outbox_sink_handlers``.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.request

from core.outbox import Outbox, OutboxJob

KIND = "test_sink_delivery"
BLOCK_ENV = "BADGEBRIDGE_TEST_SINK_BLOCK"


def deliver(job: OutboxJob) -> None:
    """Deliver to the sink; idempotent at the receiver, which dedupes by Idempotency-Key."""
    body = json.dumps({"payload": job.payload, "attempt": job.attempt}).encode()
    request = urllib.request.Request(
        str(job.payload["url"]),
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Idempotency-Key": job.dedupe_key},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()
    if os.environ.get(BLOCK_ENV):
        threading.Event().wait()  # delivered, never marked done: the test kills us here


def register_outbox_handlers(outbox: Outbox) -> None:
    """Add the test kind to this worker."""
    outbox.register(KIND, deliver)
