"""The solution import against httpx.MockTransport: one import at a time (issue 18 point 6).

Dataverse refuses a second solution import with the customization-lock error, on the call (429,
0x80071151) or as its system job's failure (errorcode -2147020463). The import waits for a
running import within its bound, then is Unknown (``OperationRunning``, exit 3) naming the
running job; a real import failure stays a failure.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from client_harness import FakeTokens, run_client

from reconciler.errors import EXIT_INCOMPLETE, ChangeFailed, OperationRunning
from reconciler.kinds.solution import Solution
from reconciler.plan import Action
from reconciler.profile.model import default_profile
from reconciler.providers.base import ClientOptions
from reconciler.providers.dynamics.client import DataverseClient
from reconciler.providers.dynamics.solution import SolutionWrites
from reconciler.providers.dynamics.writer import DynamicsWriter

ORG = "https://contoso.crm.dynamics.com"
NAME = "LogMeInRescueIntegration"
RUNNING = "11111111-2222-4333-8444-555555555555"
OURS = "99999999-8888-4777-8666-555555555555"
LOCK_TEXT = (
    "Cannot start another [Import] because there is a previous [Import] running at this moment. "
    "Use Solution History for more details."
)


def _change() -> Action:
    want = Solution(unique_name=NAME, version="2.2.0.0", managed=True, package="solution.zip")
    return Action("solution", want.key, (), "import_solution", want, None, "older", ())


class FakeOrg:
    """Routes the requests the import makes; ``answers`` may be changed as the test goes."""

    def __init__(self, **answers: Any) -> None:
        self.answers = answers
        self.seen: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.rsplit("/", 1)[-1]
        self.seen.append(f"{request.method} {path}")
        answer = self.answers[path.split("(")[0]]
        return answer(request) if callable(answer) else answer


def _installed(version: str) -> dict[str, Any]:
    return {"solutionid": RUNNING, "uniquename": NAME, "version": version, "ismanaged": True}


def _rows(*rows: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json={"value": list(rows)})


def _import(tmp_path: Path, org: FakeOrg, wait: float) -> Callable[[DataverseClient], Any]:
    (tmp_path / "solution.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)

    async def body(client: DataverseClient) -> str:
        writer = DynamicsWriter(
            client,
            default_profile(),
            tenant_folder=tmp_path,
            resolve_secret=lambda ref: "",
            poll_interval=0.0,
            import_wait_seconds=wait,
        )
        return await SolutionWrites(writer).apply_one(_change())

    return body


def _client(options: ClientOptions) -> DataverseClient:
    return DataverseClient(ORG, FakeTokens("token"), **options)


run = partial(run_client, _client)

_RUNNING_ROW = {
    "asyncoperationid": RUNNING,
    "name": "Import Solution Other",
    "statecode": 2,
    "statuscode": 20,
    "startedon": "2026-12-07T12:00:00Z",
}


def test_a_running_import_is_waited_for_then_unknown_naming_its_job(tmp_path: Path) -> None:
    org = FakeOrg(
        asyncoperations=lambda r: (
            httpx.Response(200, json=_RUNNING_ROW) if RUNNING in str(r.url) else _rows(_RUNNING_ROW)
        )
    )
    with pytest.raises(OperationRunning) as info:
        run(org, _import(tmp_path, org, wait=0))
    assert info.value.exit_code == EXIT_INCOMPLETE
    assert f"another solution import is running in this org (system job {RUNNING}" in info.value.message
    assert (
        "Import Solution Other" in info.value.message and "started 2026-12-07T12:00:00Z" in info.value.message
    )
    assert not any(s.startswith("POST") for s in org.seen)  # nothing was imported


def test_a_lock_refusal_of_the_call_is_not_retried_as_throttling(tmp_path: Path) -> None:
    refusal = httpx.Response(429, json={"error": {"code": "0x80071151", "message": LOCK_TEXT}})
    org = FakeOrg(asyncoperations=_rows(), ImportSolutionAsync=refusal)
    with pytest.raises(OperationRunning) as info:
        run(org, _import(tmp_path, org, wait=0))
    assert "its system job is not visible to the application user" in info.value.message
    assert org.seen.count("POST ImportSolutionAsync") == 1


def test_a_job_failed_by_the_lock_waits_for_the_other_import_and_converges(tmp_path: Path) -> None:
    looks = {"list": 0, "other": 0}

    def jobs(request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        if OURS in url:  # our job: failed by the lock
            return httpx.Response(
                200,
                json={"statecode": 3, "statuscode": 31, "errorcode": -2147020463, "message": LOCK_TEXT},
            )
        if RUNNING in url:  # the other import: completes on the second look
            looks["other"] += 1
            return httpx.Response(200, json={**_RUNNING_ROW, "statecode": 3 if looks["other"] > 1 else 2})
        # The first look sees nothing: the other import starts between that look and ours.
        looks["list"] += 1
        return _rows() if looks["list"] == 1 else _rows(_RUNNING_ROW)

    org = FakeOrg(
        asyncoperations=jobs,
        ImportSolutionAsync=httpx.Response(200, json={"AsyncOperationId": OURS, "ImportJobKey": "k"}),
        # Installed by the other import once it has completed.
        solutions=lambda r: _rows(_installed("2.2.0.0" if looks["other"] > 1 else "2.1.0.0")),
    )
    message = run(org, _import(tmp_path, org, wait=60))
    assert message == (
        f"installed meanwhile by the solution import that was running (system job {RUNNING}): "
        f"{NAME} 2.2.0.0; nothing imported"
    )
    assert org.seen.count("POST ImportSolutionAsync") == 1


def test_a_lock_from_an_invisible_import_that_installs_the_version_converges(tmp_path: Path) -> None:
    refusal = httpx.Response(429, json={"error": {"code": "0x80071151", "message": LOCK_TEXT}})
    org = FakeOrg(
        asyncoperations=_rows(), ImportSolutionAsync=refusal, solutions=_rows(_installed("2.2.0.0"))
    )
    message = run(org, _import(tmp_path, org, wait=60))
    assert (
        message
        == f"installed meanwhile by the solution import that was running: {NAME} 2.2.0.0; nothing imported"
    )
    assert org.seen.count("POST ImportSolutionAsync") == 1


def test_an_import_that_fails_for_another_reason_is_a_failure(tmp_path: Path) -> None:
    org = FakeOrg(
        asyncoperations=lambda r: (
            httpx.Response(
                200, json={"statecode": 3, "statuscode": 31, "message": "The import file is invalid."}
            )
            if OURS in str(r.url)
            else _rows()
        ),
        ImportSolutionAsync=httpx.Response(200, json={"AsyncOperationId": OURS, "ImportJobKey": "k"}),
        importjobs=httpx.Response(404, json={"error": {"code": "0x80040217", "message": "none"}}),
    )
    with pytest.raises(ChangeFailed) as info:
        run(org, _import(tmp_path, org, wait=60))
    assert not isinstance(info.value, OperationRunning)
    assert "the solution import failed: The import file is invalid." in info.value.message


def test_our_own_import_outliving_the_bound_is_unknown(tmp_path: Path) -> None:
    org = FakeOrg(
        asyncoperations=lambda r: (
            httpx.Response(200, json={"statecode": 2, "statuscode": 20}) if OURS in str(r.url) else _rows()
        ),
        ImportSolutionAsync=httpx.Response(200, json={"AsyncOperationId": OURS, "ImportJobKey": "k"}),
    )
    with pytest.raises(OperationRunning) as info:
        run(org, _import(tmp_path, org, wait=0))
    assert f"the solution import (system job {OURS}) is still running" in info.value.message
    assert org.seen.count("POST ImportSolutionAsync") == 1
