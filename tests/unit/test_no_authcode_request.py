"""The product never asks Rescue for a new authcode (issue 18, point 3).

A new authcode ends the old one for every other integration of the account ("An authcode does
not time out; it remains valid until the account holder requests a new one"), so a scheduled
run that called ``requestAuthCode`` would sign every other integration out. The authcode is a
secret the admin gives; no module of the product names the method as something to call (its
name inside a sentence of advice to a person is fine). ``tests/integration/test_health.py``
checks the sandbox's request log of a health run too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PRODUCT = Path(__file__).resolve().parents[2] / "reconciler"
METHODS = {"requestauthcode", "requestauthcodesso"}


def calls_to_authcode_request(source: str) -> list[str]:
    """The string constants of ``source`` that name the method as a call target: the bare method
    name (passed to a client's ``call``) or a URL of its page."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value.strip().casefold()
            if text in METHODS or any(f"{m}.aspx" in text or f"/{m}" in text for m in METHODS):
                found.append(node.value)
    return found


@pytest.mark.parametrize(
    "snippet",
    [
        'await client.call("requestAuthCode", {"email": e, "pwd": p}, repeatable=False)',
        'url = "https://secure.logmeinrescue.com/API/requestAuthCodeSSO.aspx"',
        'httpx.post(base + "/RequestAuthCode", data=form)',
    ],
)
def test_the_detector_finds_a_call(snippet: str) -> None:
    assert calls_to_authcode_request(snippet)


def test_advice_to_a_person_is_not_a_call() -> None:
    assert not calls_to_authcode_request(
        'MESSAGE = "regenerate the authcode (requestAuthCode) in the Admin Center"'
    )


def test_no_product_module_requests_an_authcode() -> None:
    modules = sorted(PRODUCT.rglob("*.py"))
    assert len(modules) > 50  # the whole product, not an empty folder
    offenders = {
        str(path.relative_to(PRODUCT)): found
        for path in modules
        if (found := calls_to_authcode_request(path.read_text("utf-8")))
    }
    assert offenders == {}
