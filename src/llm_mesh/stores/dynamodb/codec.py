"""Marshalling between Python values and DynamoDB's low-level attribute values.

Numbers travel as decimal strings built from ``Decimal(repr(x))``: ``repr`` of a
float is the shortest string that round-trips, so a float read back is
bit-for-bit the float written (no binary-to-decimal drift), and ints stay ints.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any, Mapping

Item = dict[str, dict[str, Any]]


def num(value: int | float | Decimal) -> dict[str, str]:
    if isinstance(value, bool):
        raise TypeError("booleans are not DynamoDB numbers")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"DynamoDB cannot store non-finite number {value!r}")
        value = Decimal(repr(value))
    elif isinstance(value, int):
        value = Decimal(value)
    return {"N": str(value)}


def s(value: str) -> dict[str, str]:
    return {"S": str(value)}


def b(value: bool) -> dict[str, bool]:
    return {"BOOL": bool(value)}


def str_map(values: Mapping[str, Any]) -> dict[str, Any]:
    return {"M": {str(k): {"S": str(v)} for k, v in values.items()}}


def get_float(item: Item, name: str, default: float | None = None) -> float | None:
    attr = item.get(name)
    if attr is None or "NULL" in attr:
        return default
    return float(Decimal(attr["N"]))


def get_int(item: Item, name: str, default: int | None = None) -> int | None:
    attr = item.get(name)
    if attr is None or "NULL" in attr:
        return default
    return int(Decimal(attr["N"]))


def get_str(item: Item, name: str, default: str | None = None) -> str | None:
    attr = item.get(name)
    if attr is None or "NULL" in attr:
        return default
    return attr["S"]


def get_bool(item: Item, name: str, default: bool = False) -> bool:
    attr = item.get(name)
    if attr is None or "NULL" in attr:
        return default
    return bool(attr["BOOL"])


def get_str_map(item: Item, name: str) -> dict[str, str]:
    attr = item.get(name)
    if attr is None or "NULL" in attr:
        return {}
    return {k: v["S"] for k, v in attr["M"].items()}
