"""RescueWriter: a technician create whose e-mail another run took meanwhile, or whose replies were lost.

Exactly one technician with the e-mail in the intended group: adopted, and the nameless node our
createUser made is deleted. Several, or one elsewhere: the change fails naming them, nothing is
adopted by guess.
"""

from __future__ import annotations

import asyncio

import pytest

from reconciler.errors import ApiError, ChangeFailed
from reconciler.kinds.rescue_technician import RescueTechnician
from reconciler.plan import Create
from reconciler.providers.rescue.records import HierarchyResponse
from reconciler.providers.rescue.technicians import EMAIL_IN_USE, TechnicianWrites
from reconciler.providers.rescue.writer import RescueWriter
from reconciler.providers.retry import ClientTransportError

TECHNICIANS = {"NODEID": "1", "PARENTID": "0", "NAME": "Technicians", "TYPE": "Technicians", "EMAIL": ""}
SUPPORT = {"NODEID": "2", "PARENTID": "1", "NAME": "Support", "TYPE": "TechnicianGroup", "EMAIL": ""}
OTHER = {"NODEID": "3", "PARENTID": "1", "NAME": "Other", "TYPE": "TechnicianGroup", "EMAIL": ""}
ADMINS = {"NODEID": "4", "PARENTID": "0", "NAME": "Administrators", "TYPE": "Administrators", "EMAIL": ""}


class FakeRescue:
    """The calls a technician create makes; ``rival`` runs once, just before our setUser lands."""

    def __init__(self, rival: list[dict[str, str]] | None = None, *, lose_create: bool = False) -> None:
        self.nodes: dict[str, dict[str, str]] = {
            n["NODEID"]: dict(n) for n in (TECHNICIANS, SUPPORT, OTHER, ADMINS)
        }
        self.rival = rival or []
        self.lose_create = lose_create
        self.deleted: list[str] = []
        self.set_calls: list[dict[str, str]] = []
        self.creates = 0
        self.refuse_delete = False

    async def get_hierarchy(self) -> HierarchyResponse:
        return HierarchyResponse("OK", [dict(n) for n in self.nodes.values()])

    def _add(self, parent: str, email: str = "", type_: str = "Technician", name: str = "New User") -> str:
        node = str(100 + len(self.nodes))
        self.nodes[node] = {"NODEID": node, "PARENTID": parent, "NAME": name, "TYPE": type_, "EMAIL": email}
        return node

    def _rival_acts(self) -> None:
        for node in self.rival:
            self._add(node["PARENTID"], node["EMAIL"], node.get("TYPE", "Technician"), "Rival")
        self.rival = []

    async def create_user(self, parent: str) -> str:
        self.creates += 1
        node = self._add(parent)
        if self.lose_create:
            self.lose_create = False
            self._rival_acts()
            raise ClientTransportError(
                "POST createUser: connection lost before the reply", maybe_applied=True
            )
        return node

    async def set_user(self, fields: dict[str, str]) -> None:
        self._rival_acts()
        self.set_calls.append(fields)
        email = fields["email"].lower()
        if any(n["EMAIL"].lower() == email and k != fields["node"] for k, n in self.nodes.items()):
            raise ApiError(f"setUser_v2: in use ({EMAIL_IN_USE})", code=EMAIL_IN_USE, status=200)
        self.nodes[fields["node"]].update(EMAIL=fields["email"], NAME=fields["name"], SSOID=fields["ssoid"])

    async def get_user(self, *, node: str) -> dict[str, str]:
        found = self.nodes[node]
        return {"NODEID": node, "NAME": found["NAME"], "EMAIL": found["EMAIL"], "SSOID": found.get("SSOID", ""),
                "STATUS": "Offline", "HASMOBILEADDON": "False", "HASRPATADDON": "False"}  # fmt: skip

    async def delete_node(self, node: str) -> None:
        if self.refuse_delete:
            raise ApiError("deleteNode: Rescue answered INVALID_DELETE", code="INVALID_DELETE", status=200)
        self.deleted.append(node)
        del self.nodes[node]


def create(fake: FakeRescue) -> str:
    writer = RescueWriter(fake)  # type: ignore[arg-type]
    desired = RescueTechnician(
        technician_id="new:dave@contoso.com", email="dave@contoso.com", sso_id="dave", create_group="Support"
    )
    change = Create("rescue_technician", desired.technician_id, (), desired=desired)
    return asyncio.run(TechnicianWrites(writer).apply_one(change))


def nameless(fake: FakeRescue) -> list[str]:
    return [k for k, n in fake.nodes.items() if n["TYPE"] == "Technician" and not n["EMAIL"]]


def test_an_email_another_run_took_in_the_group_is_adopted_and_our_node_removed() -> None:
    fake = FakeRescue([{"PARENTID": "2", "EMAIL": "Dave@contoso.com"}])
    message = create(fake)
    assert message == "adopted node 105 (another run created it first)"
    assert fake.deleted == ["104"] and nameless(fake) == []
    assert fake.set_calls[-1]["node"] == "105" and fake.set_calls[-1]["ssoid"] == "dave"  # SSO ID as declared


def test_an_email_taken_in_another_group_is_not_adopted() -> None:
    fake = FakeRescue([{"PARENTID": "3", "EMAIL": "dave@contoso.com"}])
    with pytest.raises(
        ChangeFailed, match=r"belongs to node 105 \(technician in 'Other'\), not to a technician"
    ):
        create(fake)
    assert fake.deleted == ["104"]


def test_an_email_taken_by_an_administrator_is_not_adopted() -> None:
    fake = FakeRescue([{"PARENTID": "4", "EMAIL": "dave@contoso.com", "TYPE": "Administrator"}])
    with pytest.raises(ChangeFailed, match=r"belongs to node 105 \(administrator in 'node 4'\)"):
        create(fake)


def test_an_email_on_several_nodes_is_ambiguous() -> None:
    rivals = [{"PARENTID": "2", "EMAIL": "dave@contoso.com"}, {"PARENTID": "2", "EMAIL": "DAVE@contoso.com"}]
    fake = FakeRescue(rivals)
    with pytest.raises(
        ChangeFailed, match=r"on several Rescue nodes \(node 105 .*, node 106 .*\): .*technician_id"
    ):
        create(fake)
    assert fake.deleted == ["104"]


def test_a_node_that_cannot_be_deleted_is_named_in_the_outcome() -> None:
    fake = FakeRescue([{"PARENTID": "2", "EMAIL": "dave@contoso.com"}])
    fake.refuse_delete = True
    message = create(fake)
    assert "node 104 is left without a name: delete it in the Rescue Admin Center" in message
    assert nameless(fake) == ["104"]


def test_a_lost_create_reply_while_another_run_completed_the_technician_takes_it() -> None:
    fake = FakeRescue([{"PARENTID": "2", "EMAIL": "dave@contoso.com"}], lose_create=True)
    message = create(fake)
    assert message.startswith("adopted node 105 (its create's reply was lost")
    assert fake.creates == 1 and fake.deleted == []  # 104 may be ours, but that is a guess: it stays
    assert nameless(fake) == ["104"]  # and `plan` reports it (providers/rescue/orphans.py)


def test_without_a_rival_the_create_completes() -> None:
    fake = FakeRescue()
    assert create(fake) == "created (node 104)"
    assert nameless(fake) == [] and fake.deleted == []


def test_an_email_several_technicians_already_share_is_refused_before_any_create() -> None:
    """Live state changed since the plan: two technicians now share the e-mail. The create never
    starts (no nameless node is made), and both are named."""
    fake = FakeRescue()
    fake._add("2", "dave@contoso.com", name="Dave")
    fake._add("3", "DAVE@contoso.com ", name="Dave (old)")
    with pytest.raises(
        ChangeFailed, match=r"several Rescue technicians now have the email .*: 104, 105; pin"
    ):
        create(fake)
    assert fake.creates == 0 and fake.set_calls == [] and nameless(fake) == []


def test_an_email_one_technician_has_in_another_case_is_that_technician() -> None:
    fake = FakeRescue()
    fake._add("2", "Dave@Contoso.com", name="Dave")
    assert create(fake) == "already exists (node 104)"
    assert fake.creates == 0
