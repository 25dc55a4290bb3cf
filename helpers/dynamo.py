"""DynamoDB in this process, with moto: no AWS account, no network, no server.

Step 03's walkthrough designs a DynamoDB table from its queries::

    from helpers import dynamo
    local = dynamo.start()                  # moto's mock_aws, started in this process
    table = local.resource.create_table(...)
    result = dynamo.read(table.query, KeyConditionExpression=...)
    result.count, result.scanned          # items returned, items read
    dynamo.stop()

:func:`start` starts moto's ``mock_aws`` (it intercepts every AWS call boto3 makes in this
process and answers it from memory) and makes boto3 clients with **fake credentials** and a
**fixed region**, passed explicitly, so nothing is read from ``~/.aws`` and no real AWS
account could ever be reached. Starting again stops the previous one (a re-run cell).

:func:`read` runs a Query or a Scan to the end (following ``LastEvaluatedKey``, page by
page) and counts what it cost: items returned (``Count``), items DynamoDB had to read to
find them (``ScannedCount``), and the number of requests (pages). DynamoDB bills a read
by the size of the items it *read*, not returned: :func:`item_size` and :func:`read_units`
apply its documented rule (4 KB per unit, half for eventually consistent reads). moto
reports a flat ``ConsumedCapacity`` of 1.0 for every request, so the notebook prices the
reads itself from ``scanned`` and the items' sizes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import boto3
from botocore.config import Config
from moto import mock_aws

__all__ = ["REGION", "LocalDynamo", "ReadResult", "item_size", "read", "read_units", "start", "stop"]

#: The one region every client here uses (moto keeps a separate DynamoDB per region).
REGION = "eu-west-1"
#: Fake credentials, given to boto3 explicitly: the real ones in ~/.aws are never read.
_FAKE_CREDENTIALS = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",  # noqa: S105 - moto accepts anything; not a secret
    "aws_session_token": "testing",  # noqa: S105
}
#: No retries: an error from the mock shows at once instead of after back-off.
_CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"})


class LocalDynamo:
    """moto's DynamoDB, active in this process until :meth:`stop`; boto3 ``client`` and ``resource``."""

    def __init__(self) -> None:
        self._mock = mock_aws()
        self._mock.start()
        session = boto3.session.Session(region_name=REGION, **_FAKE_CREDENTIALS)
        self.resource = session.resource("dynamodb", config=_CONFIG)
        self.client = self.resource.meta.client  # the low-level client under it (one, not two)
        self.running = True

    def stop(self) -> None:
        """Stop intercepting AWS calls and forget every table."""
        if self.running:
            self._mock.stop()
            self.running = False

    def __enter__(self) -> LocalDynamo:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


_current: LocalDynamo | None = None


def start() -> LocalDynamo:
    """A fresh, empty, in-process DynamoDB (stopping the one a previous call started)."""
    global _current
    stop()
    _current = LocalDynamo()
    return _current


def stop() -> None:
    """Stop the DynamoDB :func:`start` made, if any."""
    global _current
    if _current is not None:
        _current.stop()
        _current = None


# --------------------------------------------------------------------------- cost


def _value_size(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, int | float | Decimal):
        # About one byte per two significant digits, plus one (AWS's documented estimate).
        digits = len(str(abs(Decimal(str(value)))).replace(".", "").lstrip("0")) or 1
        return math.ceil(digits / 2) + 1
    if isinstance(value, bytes | bytearray):
        return len(value)
    if isinstance(value, Mapping):
        return 3 + sum(len(str(k).encode("utf-8")) + _value_size(v) + 1 for k, v in value.items())
    if isinstance(value, Iterable):
        return 3 + sum(_value_size(v) + 1 for v in value)
    raise TypeError(f"not a DynamoDB value: {value!r}")


def item_size(item: Mapping[str, Any]) -> int:
    """Bytes DynamoDB counts for ``item``: each attribute's name plus its value (UTF-8 bytes)."""
    return sum(len(name.encode("utf-8")) + _value_size(value) for name, value in item.items())


def read_units(bytes_read: int, *, consistent: bool = False) -> float:
    """Read capacity units DynamoDB bills for a request that read ``bytes_read`` bytes of items:
    one unit per 4 KB, rounded up (at least one); half that for eventually consistent reads."""
    blocks = max(1, math.ceil(bytes_read / 4096))
    return blocks * (1.0 if consistent else 0.5)


@dataclass
class ReadResult:
    """A Query or Scan run to the end: the items, and how many items were read to find them."""

    items: list[dict[str, Any]] = field(default_factory=list)
    count: int = 0  # items returned
    scanned: int = 0  # items read to find them (ScannedCount): what is billed
    requests: int = 0  # pages (each request reads at most 1 MB)

    def __str__(self) -> str:
        plural = "s" if self.requests != 1 else ""
        return f"{self.count} items returned, {self.scanned:,} read, in {self.requests} request{plural}"


def read(operation: Callable[..., dict], **kwargs: Any) -> ReadResult:
    """Run ``table.query`` or ``table.scan`` with ``kwargs`` to the last page; count what it read.

    A ``FilterExpression`` is applied *after* items are read: it shrinks ``count``, not
    ``scanned`` (nor the bill). ``Limit`` caps the items read per request; a limited read
    stops after its first page, as a caller asking for "the first n" would.
    """
    result = ReadResult()
    pages = dict(kwargs)
    while True:
        page = operation(**pages)
        result.requests += 1
        result.items += page.get("Items", [])
        result.count += page["Count"]
        result.scanned += page["ScannedCount"]
        if "LastEvaluatedKey" not in page or "Limit" in kwargs:
            return result
        pages["ExclusiveStartKey"] = page["LastEvaluatedKey"]
