"""Raw-HTTP conformance of the actions and system jobs: ImportSolution(Async), ReactivateEntityKey,
the Session Key index job and its asyncoperation, as the reference and the troubleshooting guide
describe them. Jobs advance on an injected clock, so nothing sleeps."""

from __future__ import annotations

import base64
import io
import time
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from dataverse_harness import HOST, install_org

from rescue_sandbox.dataverse import DataverseOrg, actions
from rescue_sandbox.dataverse.standalone import StandaloneServer

pytestmark = pytest.mark.integration

SOLUTION = "LogMeInRescueIntegration"
SEED: dict[str, Any] = {
    "org_url": f"https://{HOST}",
    "business_units": [{"name": "contoso"}],
    "solutions": [{"uniquename": SOLUTION, "version": "2.0.3.0", "ismanaged": True}],
    "session_key": {"status": "Failed", "error": "Index creation failed."},
}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def org(server: StandaloneServer, clock: FakeClock) -> DataverseOrg:
    org = install_org(server, SEED, clock=clock, index_job_seconds=2.0)
    org.import_seconds_base, org.import_seconds_per_mb = 0.2, 0.0  # imports here: quick, wall clock
    return org


@pytest.fixture
def api_headers() -> dict[str, str]:
    return {"OData-Version": "4.0"}


def solution_zip(
    name: str = SOLUTION, version: str = "2.1.0.0", managed: str = "1", xml: str | None = None
) -> str:
    manifest = xml or (
        "<ImportExportXml><SolutionManifest>"
        f"<UniqueName>{name}</UniqueName>"
        '<LocalizedNames><LocalizedName description="LogMeIn Rescue" languagecode="1033"/></LocalizedNames>'
        f"<Version>{version}</Version><Managed>{managed}</Managed>"
        "</SolutionManifest></ImportExportXml>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("solution.xml", manifest)
        archive.writestr("customizations.xml", "<ImportExportXml/>")
    return base64.b64encode(buffer.getvalue()).decode()


def import_body(customization_file: str) -> dict[str, Any]:
    return {
        "CustomizationFile": customization_file,
        "OverwriteUnmanagedCustomizations": False,
        "PublishWorkflows": True,
        "ImportJobId": str(uuid.uuid4()),
    }


def solution(api: httpx.Client, name: str = SOLUTION) -> dict[str, Any] | None:
    rows = api.get(
        "solutions",
        params={
            "$select": "solutionid,uniquename,friendlyname,version,ismanaged",
            "$filter": f"uniquename eq '{name}'",
        },
    ).json()["value"]
    return rows[0] if rows else None


def key(api: httpx.Client) -> dict[str, Any]:
    [entry] = api.get("EntityDefinitions(LogicalName='lmi_logmeinsession')/Keys").json()["value"]
    return dict(entry)


# ---------------------------------------------------------------------------------------- ImportSolution
def test_import_solution_upgrades_and_records_import_job(api: httpx.Client) -> None:
    body = import_body(solution_zip(version="2.1.0.0"))
    response = api.post("ImportSolution", json=body)
    assert response.status_code == 204 and response.content == b""
    installed = solution(api)
    assert installed is not None and installed["version"] == "2.1.0.0" and installed["ismanaged"] is True
    job = api.get(f"importjobs({body['ImportJobId']})").json()
    assert job["progress"] == 100.0 and job["completedon"] and job["solutionname"] == SOLUTION


def test_import_solution_installs_a_new_solution(api: httpx.Client) -> None:
    response = api.post("ImportSolution", json=import_body(solution_zip(name="Other", managed="0")))
    assert response.status_code == 204
    other = solution(api, "Other")
    assert other is not None and other["ismanaged"] is False and other["friendlyname"] == "LogMeIn Rescue"


@pytest.mark.parametrize(
    "customization_file, fragment",
    [
        ("***not base64***", "base64"),
        (base64.b64encode(b"plain text, not a zip").decode(), "not a solution zip"),
        (solution_zip(xml="<ImportExportXml><SolutionManifest/></ImportExportXml>"), "UniqueName"),
        (solution_zip(xml="<not-closed"), "cannot be read"),
        (solution_zip(version="2.0.0.0"), "older than the installed version"),
        (solution_zip(managed="0"), "managed solution"),
    ],
)
def test_import_solution_failures_are_400(api: httpx.Client, customization_file: str, fragment: str) -> None:
    response = api.post("ImportSolution", json=import_body(customization_file))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"].startswith("0x") and fragment in error["message"]
    installed = solution(api)
    assert installed is not None and installed["version"] == "2.0.3.0"


def test_zip_without_solution_xml_is_400(api: httpx.Client) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("customizations.xml", "<x/>")
    response = api.post("ImportSolution", json=import_body(base64.b64encode(buffer.getvalue()).decode()))
    assert response.status_code == 400 and "solution.xml" in response.json()["error"]["message"]


def test_a_solution_file_over_95_mb_is_400(api: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """The documented limit (docs/sandbox.md), lowered here so the test sends a small file."""
    package = solution_zip()
    monkeypatch.setattr(actions, "MAX_SOLUTION_FILE_BYTES", len(base64.b64decode(package)) - 1)
    response = api.post("ImportSolution", json=import_body(package))
    assert response.status_code == 400 and "at most 95 MB" in response.json()["error"]["message"]


def test_import_solution_needs_an_import_job_id(api: httpx.Client) -> None:
    response = api.post("ImportSolution", json={"CustomizationFile": solution_zip()})
    assert response.status_code == 400 and response.json()["error"]["code"] == "0x80048d19"


def test_import_solution_async_runs_as_system_job(api: httpx.Client, clock: FakeClock) -> None:
    body = import_body(solution_zip(version="2.2.0.0"))
    response = api.post("ImportSolutionAsync", json=body)
    assert response.status_code == 200
    reply = response.json()
    assert reply["ImportJobKey"] == body["ImportJobId"]
    job_url = f"asyncoperations({reply['AsyncOperationId']})"
    job = api.get(job_url, params={"$select": "operationtype,statecode,statuscode"}).json()
    assert (job["operationtype"], job["statecode"], job["statuscode"]) == (203, 0, 0)
    clock.now += 5
    job = api.get(job_url).json()
    assert (job["statecode"], job["statuscode"]) == (3, 30)
    assert solution(api)["version"] == "2.2.0.0"  # type: ignore[index]


def test_import_solution_async_with_bad_zip_fails_the_job(api: httpx.Client, clock: FakeClock) -> None:
    response = api.post("ImportSolutionAsync", json=import_body(base64.b64encode(b"nope").decode()))
    assert response.status_code == 200
    clock.now += 5
    job = api.get(f"asyncoperations({response.json()['AsyncOperationId']})").json()
    assert job["statuscode"] == 31 and "not a solution zip" in job["message"]


# ------------------------------------------------------------------------- one solution import at a time
def _lock_refusal(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert "retry-after" not in response.headers  # the lock lasts as long as the running import
    error = response.json()["error"]
    assert error["code"] == "0x80071151"
    assert error["message"].startswith(
        "Cannot start another [Import] because there is a previous [Import] running at this moment."
    )


def test_a_second_async_import_while_one_runs_gets_a_failed_job(api: httpx.Client, clock: FakeClock) -> None:
    first = api.post("ImportSolutionAsync", json=import_body(solution_zip(version="2.2.0.0"))).json()
    body = import_body(solution_zip(version="2.3.0.0"))
    second = api.post("ImportSolutionAsync", json=body)
    assert second.status_code == 200  # accepted: the lock fails its system job
    job = api.get(
        f"asyncoperations({second.json()['AsyncOperationId']})",
        params={"$select": "operationtype,statecode,statuscode,errorcode,message"},
    ).json()
    assert (job["operationtype"], job["statecode"], job["statuscode"]) == (203, 3, 31)
    assert job["errorcode"] == -2147020463 and job["message"].startswith("Cannot start another [Import]")
    data = api.get(f"importjobs({body['ImportJobId']})").json()["data"]
    assert 'result="failure"' in data and 'errorcode="0x80071151"' in data
    _lock_refusal(api.post("ImportSolution", json=import_body(solution_zip(version="2.3.0.0"))))
    clock.now += 5  # the first import ends: the lock is free again
    assert api.get(f"asyncoperations({first['AsyncOperationId']})").json()["statuscode"] == 30
    assert solution(api)["version"] == "2.2.0.0"  # type: ignore[index]
    assert api.post("ImportSolution", json=import_body(solution_zip(version="2.3.0.0"))).status_code == 204


def test_an_import_while_a_synchronous_import_runs_is_refused(api: httpx.Client, org: DataverseOrg) -> None:
    org.import_seconds_base = 3.0  # the first import stays in flight while the test tries two more
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(api.post, "ImportSolution", json=import_body(solution_zip(version="2.2.0.0")))
        deadline = time.monotonic() + 10
        while not org.sync_imports and time.monotonic() < deadline:
            time.sleep(0.01)
        assert org.sync_imports, "the synchronous import never arrived"
        _lock_refusal(api.post("ImportSolution", json=import_body(solution_zip(version="2.3.0.0"))))
        refused = api.post("ImportSolutionAsync", json=import_body(solution_zip(version="2.3.0.0")))
        job = api.get(f"asyncoperations({refused.json()['AsyncOperationId']})").json()
        assert job["statuscode"] == 31 and job["errorcode"] == -2147020463
        assert first.result().status_code == 204
    assert solution(api)["version"] == "2.2.0.0"  # type: ignore[index]  (the refused ones changed nothing)
    assert not org.sync_imports


# ---------------------------------------------------------------------------------------- entity key
def test_failed_key_points_at_failed_index_job(api: httpx.Client) -> None:
    entry = key(api)
    assert entry["EntityKeyIndexStatus"] == "Failed"
    jobs = api.get(
        "asyncoperations",
        params={
            "$select": "asyncoperationid,name,statuscode",
            "$filter": "operationtype eq 63 and statuscode eq 31",
        },
    ).json()["value"]
    assert [j["asyncoperationid"] for j in jobs] == [entry["AsyncJob"]]
    assert jobs[0]["name"].startswith("Create index for")


def test_remediation_delete_job_reactivate_poll_until_active(api: httpx.Client, clock: FakeClock) -> None:
    failed_job = key(api)["AsyncJob"]
    assert api.delete(f"asyncoperations({failed_job})").status_code == 204
    assert api.get(f"asyncoperations({failed_job})").status_code == 404
    body = {"EntityLogicalName": "lmi_logmeinsession", "EntityKeyLogicalName": "lmi_sessionkey"}
    response = api.post("ReactivateEntityKey", json=body)
    assert response.status_code == 204 and response.content == b""
    entry = key(api)
    assert entry["EntityKeyIndexStatus"] == "Pending" and entry["AsyncJob"] != failed_job
    job_url = f"asyncoperations({entry['AsyncJob']})"
    assert api.get(job_url).json()["operationtype"] == 63
    clock.now += 1.0
    assert key(api)["EntityKeyIndexStatus"] == "InProgress"
    assert api.get(job_url).json()["statuscode"] == 20
    in_progress = api.delete(job_url)
    assert in_progress.status_code == 400, "a running system job cannot be deleted"
    clock.now += 1.5
    assert key(api)["EntityKeyIndexStatus"] == "Active"
    job = api.get(job_url).json()
    assert (job["statecode"], job["statuscode"]) == (3, 30)
    assert api.post("ReactivateEntityKey", json=body).status_code == 400, (
        "an Active key has nothing to reactivate"
    )


def test_reactivation_fails_on_duplicate_key_values(
    api: httpx.Client, org: DataverseOrg, clock: FakeClock
) -> None:
    for session in ("S-1", "s-1", "S-2"):
        assert api.post("lmi_logmeinsessions", json={"lmi_sessionid": session}).status_code == 204
    body = {"EntityLogicalName": "lmi_logmeinsession", "EntityKeyLogicalName": "lmi_sessionkey"}
    assert api.post("ReactivateEntityKey", json=body).status_code == 204
    clock.now += 3
    entry = key(api)
    assert entry["EntityKeyIndexStatus"] == "Failed"
    job = api.get(f"asyncoperations({entry['AsyncJob']})").json()
    assert (job["statecode"], job["statuscode"]) == (3, 31)
    assert "'s-1'" in job["message"] and "x2" in job["message"]


@pytest.mark.parametrize(
    "body, status",
    [
        ({"EntityLogicalName": "nosuch", "EntityKeyLogicalName": "k"}, 404),
        ({"EntityLogicalName": "lmi_logmeinsession", "EntityKeyLogicalName": "nosuch"}, 404),
        ({"EntityLogicalName": "lmi_logmeinsession"}, 400),
    ],
)
def test_reactivate_entity_key_errors(api: httpx.Client, body: dict[str, Any], status: int) -> None:
    response = api.post("ReactivateEntityKey", json=body)
    assert response.status_code == status and response.json()["error"]["code"].startswith("0x")


def test_actions_need_post(api: httpx.Client) -> None:
    assert api.get("ImportSolution").status_code == 404


def test_a_synchronous_import_outlives_a_short_request_timeout_and_still_happens(
    api: httpx.Client, org: DataverseOrg
) -> None:
    org.import_seconds_base, org.import_seconds_per_mb = 0.5, 60.0  # 1 MB more: one more minute
    assert org.import_seconds(2_000_000) == 120.5  # grows with the package
    body = import_body(solution_zip(version="2.3.0.0"))
    with pytest.raises(httpx.ReadTimeout):
        api.post("ImportSolution", json=body, timeout=0.1)
    for _ in range(50):
        installed = solution(api)
        if installed is not None and installed["version"] == "2.3.0.0":
            break
        time.sleep(0.05)
    assert solution(api)["version"] == "2.3.0.0"  # type: ignore[index]
