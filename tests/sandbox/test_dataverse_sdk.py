"""Microsoft's ``powerplatform-dataverse-client`` against the emulator over HTTPS.

An independent client checks the emulator behaves like Dataverse: it resolves entity sets and
picklists through metadata, creates, reads, updates, pages, upserts and lists alternate keys,
deletes, and raises its own ``HttpError`` for a 404. It trusts the test CA through
``REQUESTS_CA_BUNDLE`` (set for this test only) and gets tokens from a static credential.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from dataverse_harness import with_caller
from PowerPlatform.Dataverse.client import DataverseClient
from PowerPlatform.Dataverse.core.errors import HttpError
from PowerPlatform.Dataverse.models.upsert import UpsertItem

from rescue_sandbox.dataverse import DataverseOrg
from rescue_sandbox.dataverse.standalone import LocalTokens, StandaloneServer, serve_standalone

pytestmark = pytest.mark.integration

HOST = "contoso.crm.dynamics.com"
SETTINGS = "lmi_logmeinsettings"
SEED: dict[str, Any] = {
    "org_url": f"https://{HOST}",
    "business_units": [{"name": "contoso"}],
    "users": [
        {"domainname": "alice@contoso.com", "firstname": "Alice"},
        {"domainname": "bob@contoso.com", "firstname": "Bob"},
    ],
    "settings": [
        {"user": "alice@contoso.com", "technician_id": "1001", "sso_id": "alice"},
        {"user": "bob@contoso.com", "technician_id": "1002", "sso_id": "bob"},
    ],
}


class StaticCredential:
    """A TokenCredential handing out tokens the emulator accepts, one per requested resource."""

    def __init__(self, tokens: LocalTokens) -> None:
        self.tokens = tokens
        self.scopes: list[str] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes += scopes
        resource = scopes[0].removesuffix("/.default")
        return AccessToken(self.tokens.mint(resource), int(time.time()) + 3600)


@pytest.fixture(scope="module")
def tokens() -> LocalTokens:
    return LocalTokens()


@pytest.fixture(scope="module")
def server(tokens: LocalTokens) -> Iterator[StandaloneServer]:
    org = DataverseOrg.from_seed(with_caller(SEED))
    with serve_standalone({HOST: org}, tokens.verify) as srv:
        yield srv


@pytest.fixture
def client(
    server: StandaloneServer, tokens: LocalTokens, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DataverseClient]:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", server.ca_file)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    credential = StaticCredential(tokens)
    with DataverseClient(server.dataverse_url(HOST), credential) as sdk:
        yield sdk
    # After an HttpError the SDK's response (and its pooled TLS connection) sits in a reference
    # cycle with the traceback; collect it so the connection closes and the server stops at once.
    gc.collect()
    assert credential.scopes and all(s == f"{server.dataverse_url(HOST)}/.default" for s in credential.scopes)


def test_crud_paging_and_404_with_the_microsoft_sdk(client: DataverseClient) -> None:
    record_id = client.records.create(SETTINGS, {"lmi_ssoid": "sdk", "lmi_technicianid": "1003"})
    record = client.records.retrieve(SETTINGS, record_id, select=["lmi_ssoid", "lmi_technicianid"])
    assert record is not None
    assert record["lmi_ssoid"] == "sdk" and record["lmi_technicianid"] == "1003"

    client.records.update(SETTINGS, record_id, {"lmi_ssoid": "sdk-2"})
    updated = client.records.retrieve(SETTINGS, record_id, select=["lmi_ssoid"])
    assert updated is not None and updated["lmi_ssoid"] == "sdk-2"

    pages = [list(page) for page in client.records.list_pages(SETTINGS, select=["lmi_ssoid"], page_size=1)]
    assert [len(page) for page in pages] == [1, 1, 1]
    assert sorted(page[0]["lmi_ssoid"] for page in pages) == ["alice", "bob", "sdk-2"]

    filtered = client.records.list(SETTINGS, filter="lmi_technicianid eq '1001'", select=["lmi_ssoid"])
    assert [r["lmi_ssoid"] for r in filtered] == ["alice"]

    client.records.delete(SETTINGS, record_id)
    assert client.records.retrieve(SETTINGS, record_id) is None
    with pytest.raises(HttpError) as missing:
        client.records.update(SETTINGS, record_id, {"lmi_ssoid": "gone"})
    assert missing.value.status_code == 404
    assert missing.value.details.get("service_error_code") == "0x80040217"


def test_alternate_keys_with_the_microsoft_sdk(client: DataverseClient) -> None:
    keys = client.tables.get_alternate_keys("lmi_logmeinsession")
    assert [(k.schema_name, k.key_attributes, k.status) for k in keys] == [
        ("lmi_SessionKey", ["lmi_sessionid"], "Active")
    ]
    client.records.upsert(
        "lmi_logmeinsession", [UpsertItem(alternate_key={"lmi_sessionid": "S-9"}, record={})]
    )
    by_key = client.records.retrieve("lmi_logmeinsession", "lmi_sessionid='S-9'", select=["lmi_sessionid"])
    assert by_key is not None and by_key["lmi_sessionid"] == "S-9"
    upsert = UpsertItem(alternate_key={"lmi_sessionid": "S-9"}, record={"statecode": 1})
    client.records.upsert("lmi_logmeinsession", [upsert])
    again = client.records.retrieve("lmi_logmeinsession", "lmi_sessionid='S-9'")
    assert again is not None and again["statecode"] == 1
    assert len(client.records.list("lmi_logmeinsession")) == 1
