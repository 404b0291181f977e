"""Fault injection: throttling, server errors, refusals, latency and lost connections, on demand.

Clients must survive what the real services do under load (DESIGN §4/§5), so the sandbox can
answer a share of requests with 429 + ``Retry-After``, 500, 503 or 403 (each in the service's own
error shape, 403 in :mod:`rescue_sandbox.forbidden`), add latency, close the connection
without answering, or process the request and then close the connection before the reply (the
"write committed, reply lost" case). Rules are seeded, so a sequence of requests meets the same
faults on every run.

Spec (``--faults`` and ``POST /_sandbox/faults {"spec": ...}``): rules separated by ``;``, each
``SERVICE:key=value,key=value``; SERVICE is identity, dataverse, rescue, graph, keyvault or all. Keys:

==============  ============================================================================
``429``         probability of a 429 answer; ``retry_after`` = its Retry-After seconds (1)
``500``         probability of a 500 answer
``503``         probability of a 503 answer (with ``Retry-After`` when ``retry_after`` is set)
``403``         probability of a 403 (missing privilege; nothing is processed)
``drop``        probability of closing the connection with no answer (nothing is processed)
``reply_lost``  probability of processing the request, then closing the connection unanswered
``latency``     seconds added before answering (with probability ``latency_p``, default 1)
``path``        glob matched against the request's path template (``*systemusers*``)
``method``      only this HTTP method
``count``       stop after this many faults (a delayed request counts once): "fail the next N"
==============  ============================================================================

A lone ``seed=N`` item sets the random seed (default 0), e.g.
``rescue:429=0.2,retry_after=2;dataverse:503=1,count=3,path=*$batch*;seed=7``.
"""

from __future__ import annotations

import fnmatch
import json
import random
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from rescue_sandbox.errors import InputError

FAULT_SERVICES = ("identity", "dataverse", "rescue", "graph", "keyvault", "all")
# Kinds in the order a rule's draw is compared against them (new kinds last: old seeds keep
# meeting the same faults).
_PROBABILITIES = ("drop", "429", "500", "503", "403", "reply_lost")
_ATTRIBUTES = {
    "drop": "drop",
    "429": "p429",
    "500": "p500",
    "503": "p503",
    "403": "p403",
    "reply_lost": "reply_lost",
}


@dataclass
class FaultRule:
    service: str
    drop: float = 0.0
    p429: float = 0.0
    p500: float = 0.0
    p503: float = 0.0
    p403: float = 0.0
    reply_lost: float = 0.0
    retry_after: float | None = None
    latency: float = 0.0
    latency_p: float = 1.0
    path: str | None = None
    method: str | None = None
    count: int | None = None
    fired: int = field(default=0)

    def matches(self, service: str, method: str, template: str) -> bool:
        if self.service not in ("all", service):
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.path is not None and not fnmatch.fnmatchcase(template, self.path):
            return False
        return self.count is None or self.fired < self.count

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for name, attribute in _ATTRIBUTES.items():
            data[name] = data.pop(attribute)
        return {k: v for k, v in data.items() if v is not None}

    def probabilities(self) -> list[tuple[str, float]]:
        return [(name, float(getattr(self, _ATTRIBUTES[name]))) for name in _PROBABILITIES]


@dataclass(frozen=True)
class FaultDecision:
    """What to do with one request: ``kind`` is None (answer normally) or one of the fault kinds
    ("drop", "reply_lost", "403", "429", "500", "503")."""

    kind: str | None
    latency: float = 0.0
    retry_after: float | None = None


def _number(rule: str, key: str, raw: Any, *, probability: bool = False) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise InputError(f"faults: {rule}: {key} must be a number, not {raw!r}") from None
    if value < 0 or (probability and value > 1):
        raise InputError(f"faults: {rule}: {key} must be {'in [0, 1]' if probability else '>= 0'}")
    return value


def rule_from_mapping(data: Mapping[str, Any]) -> FaultRule:
    """A rule from JSON / parsed spec items (keys as in the module docstring)."""
    service = str(data.get("service", "")).strip().lower()
    if service not in FAULT_SERVICES:
        raise InputError(f"faults: unknown service {service!r} (expected one of {', '.join(FAULT_SERVICES)})")
    known = {"service", "retry_after", "latency", "latency_p", "path", "method", "count", *_PROBABILITIES}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InputError(f"faults: {service}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
    rule = FaultRule(service)
    for name, attribute in _ATTRIBUTES.items():
        setattr(rule, attribute, _number(service, name, data.get(name, 0), probability=True))
    if sum(p for _, p in rule.probabilities()) > 1 + 1e-9:
        raise InputError(f"faults: {service}: the probabilities add up to more than 1")
    if data.get("retry_after") is not None:
        rule.retry_after = _number(service, "retry_after", data["retry_after"])
    rule.latency = _number(service, "latency", data.get("latency", 0))
    rule.latency_p = _number(service, "latency_p", data.get("latency_p", 1), probability=True)
    if data.get("path") is not None:
        rule.path = str(data["path"])
    if data.get("method") is not None:
        rule.method = str(data["method"]).upper()
    if data.get("count") is not None:
        count = _number(service, "count", data["count"])
        if count != int(count):
            raise InputError(f"faults: {service}: count must be a whole number")
        rule.count = int(count)
    return rule


def parse_spec(spec: str) -> tuple[list[FaultRule], int]:
    """Rules and seed from the text form (see the module docstring)."""
    rules: list[FaultRule] = []
    seed = 0
    for raw in (part.strip() for part in spec.split(";")):
        if not raw:
            continue
        if raw.lower().startswith("seed="):
            try:
                seed = int(raw.split("=", 1)[1])
            except ValueError:
                raise InputError(f"faults: seed must be an integer, not {raw!r}") from None
            continue
        service, sep, body = raw.partition(":")
        if not sep:
            raise InputError(f"faults: {raw!r}: expected SERVICE:key=value,...")
        if service.strip().lower() not in FAULT_SERVICES:
            raise InputError(
                f"faults: unknown service {service!r} (expected one of {', '.join(FAULT_SERVICES)})"
            )
        items: dict[str, Any] = {"service": service}
        for item in (i.strip() for i in body.split(",")):
            if not item:
                continue
            key, eq, value = item.partition("=")
            if not eq:
                raise InputError(f"faults: {raw!r}: {item!r} is not key=value")
            items[key.strip().lower()] = value.strip()
        rules.append(rule_from_mapping(items))
    return rules, seed


class FaultInjector:
    """The active rules and their random source; decisions are made under a lock."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._seed = 0
        self._random = random.Random(0)
        self._lock = threading.Lock()

    def configure(self, rules: list[FaultRule], seed: int = 0) -> None:
        with self._lock:
            self._rules = list(rules)
            self._seed = seed
            self._random = random.Random(seed)

    def configure_json(self, data: Mapping[str, Any]) -> None:
        """``{"spec": "..."}`` or ``{"seed": N, "rules": [{...}, ...]}``."""
        if "spec" in data:
            self.configure(*parse_spec(str(data["spec"])))
            return
        raw_rules = data.get("rules", [])
        if not isinstance(raw_rules, list) or not all(isinstance(r, Mapping) for r in raw_rules):
            raise InputError("faults: 'rules' must be a list of objects")
        seed = data.get("seed", 0)
        if not isinstance(seed, int):
            raise InputError("faults: 'seed' must be an integer")
        self.configure([rule_from_mapping(r) for r in raw_rules], seed)

    def clear(self) -> None:
        self.configure([], 0)

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {"seed": self._seed, "rules": [r.to_json() for r in self._rules]}

    def decide(self, service: str, method: str, template: str) -> FaultDecision:
        with self._lock:
            latency = 0.0
            for rule in self._rules:
                if not rule.matches(service, method, template):
                    continue
                delayed = bool(rule.latency) and self._random.random() < rule.latency_p
                if delayed:
                    latency += rule.latency
                draw = self._random.random()
                edge = 0.0
                for kind, p in rule.probabilities():
                    edge += p
                    if p and draw < edge:
                        rule.fired += 1
                        retry = (
                            rule.retry_after
                            if rule.retry_after is not None
                            else (1.0 if kind == "429" else None)
                        )
                        return FaultDecision(kind, latency, retry)
                rule.fired += delayed  # a delayed request is a fault too: "slow the next N" ends
            return FaultDecision(None, latency)


_DATAVERSE_FAULTS = {
    "429": ("0x80072322", "Number of requests exceeded the limit of 6000 over time window of 300 seconds."),
    "500": ("0x80040216", "An unexpected error occurred."),
    "503": ("0x80040265", "The service is temporarily unavailable. Please try again later."),
}
_GRAPH_FAULTS = {
    "429": ("TooManyRequests", "Too many requests."),
    "500": ("InternalServerError", "An internal server error occurred."),
    "503": ("ServiceUnavailable", "The service is temporarily unavailable."),
}
# Key Vault's throttling answer as observed (vcsjones/AzureSignTool#219; docs/sandbox.md).
_KEYVAULT_FAULTS = {
    "429": (
        "Throttled",
        "Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached",
    ),
    "500": ("InternalServerError", "The service encountered an internal error."),
    "503": ("ServiceUnavailable", "The service is temporarily unavailable."),
}
_IDENTITY_FAULTS = {
    "429": (
        "temporarily_unavailable",
        50196,
        "The server terminated an operation because it encountered a loop.",
    ),
    "500": ("server_error", 90033, "A transient error has occurred. Please try again."),
    "503": ("temporarily_unavailable", 90033, "A transient error has occurred. Please try again."),
}


def fault_response(service: str, kind: str, retry_after: float | None) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of an injected error, in the shape the service itself uses."""
    status = int(kind)
    headers: dict[str, str] = {}
    if retry_after is not None and status in (429, 503):
        headers["Retry-After"] = (
            str(int(retry_after)) if retry_after == int(retry_after) else str(retry_after)
        )
    if service == "dataverse":
        code, message = _DATAVERSE_FAULTS[kind]
        body = json.dumps({"error": {"code": code, "message": message}})
        headers["Content-Type"] = "application/json; odata.metadata=minimal"
        headers["OData-Version"] = "4.0"
    elif service == "graph":
        code, message = _GRAPH_FAULTS[kind]
        body = json.dumps({"error": {"code": code, "message": message}})
        headers["Content-Type"] = "application/json"
    elif service == "keyvault":
        code, message = _KEYVAULT_FAULTS[kind]
        body = json.dumps({"error": {"code": code, "message": message}})
        headers["Content-Type"] = "application/json; charset=utf-8"
    elif service == "identity":
        error, number, message = _IDENTITY_FAULTS[kind]
        body = json.dumps(
            {"error": error, "error_description": f"AADSTS{number}: {message}", "error_codes": [number]}
        )
        headers["Content-Type"] = "application/json; charset=utf-8"
    else:
        # Rescue: the real API's own statuses for throttling / failure, on a non-200 status.
        body = {"429": "LIMITREACHED\n\n", "500": "ERROR\n\n", "503": "ERROR\n\n"}[kind]
        headers["Content-Type"] = "text/plain; charset=utf-8"
    return status, headers, body.encode("utf-8")
