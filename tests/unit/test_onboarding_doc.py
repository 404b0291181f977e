"""docs/onboarding.md names exactly what doctor checks (issue 18, point 11).

The document is parsed with markdown-it-py: its generated least-privilege block must be the list
`reconcile doctor --least-privilege` gives a tenant that declares every kind (``EVERY_KIND``);
every Graph permission its permission table names must be one the needs hold, and each one the
needs hold must be in that table (with what it is for); every Dataverse privilege the prose names
must be a need. When the needs change (a new kind, another stream's permission), regenerate the
block with ``.venv/bin/python tests/unit/test_onboarding_doc.py`` and update the prose the
failure names.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token
from test_needs import BASE, INTEGRATION

from reconciler.atomicfile import write_atomic
from reconciler.config import Tenant
from reconciler.engine.needs import tenant_needs
from reconciler.kinds.needs import TenantNeeds
from reconciler.profile import effective_profile
from reconciler.render.least_privilege import need_sections, render_markdown

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "onboarding.md"
BEGIN, END = "<!-- least-privilege:begin -->", "<!-- least-privilege:end -->"
MD = MarkdownIt("commonmark").enable("table")

# A tenant that declares every kind and every option that needs something more: what the tool
# can need of an org at most.
EVERY_KIND: dict[str, Any] = {
    **BASE,
    "tenant": "every-kind",
    "connection": {
        **BASE["connection"],
        "rescue": {
            **BASE["connection"]["rescue"],
            "reports": {"email": "rescue-reports@contoso.com", "password": {"env": "PASSWORD"}},
        },
    },
    "solution": {"min_version": "2.1.0.0", "package": "solution.zip"},
    "integration": INTEGRATION,
    "application_user": {"email": "logmein-integration@contoso.com"},
    "session_key": {"status": "active"},
    "technicians": [{"user": "alice@contoso.com", "sso_id": "alice"}],
    "technician_rules": [
        {"entra_group": "5d0b2f3e-8c1a-4e6b-9f70-1a2b3c4d5e01"},
        {"rescue_group": "Support/Tier 2"},
    ],
    "rescue_groups": [{"path": "Support/Tier 2"}],
    "consent": {"check": True},
    "prune": {"technicians": True, "application_user_roles": True},
}


def every_kind_needs() -> tuple[TenantNeeds, str]:
    model = Tenant.model_validate(EVERY_KIND)
    profile = effective_profile(model.profile)
    needs = tenant_needs(model, profile)
    return needs, render_markdown(need_sections(needs, profile))


def _tokens() -> list[Token]:
    return MD.parse(DOC.read_text("utf-8"))


def _generated_block(tokens: list[Token]) -> str:
    """The fenced block between the markers, as written (fence lines included)."""
    begin = next(i for i, t in enumerate(tokens) if t.type == "html_block" and BEGIN in t.content)
    fence = tokens[begin + 1]
    assert (
        fence.type == "fence" and tokens[begin + 2].type == "html_block" and END in tokens[begin + 2].content
    )
    return f"{fence.markup}{fence.info}\n{fence.content}{fence.markup}\n"


def _prose(tokens: list[Token]) -> str:
    """Every inline text of the document outside code blocks (the generated block apart)."""
    return "\n".join(t.content for t in tokens if t.type == "inline")


def _table_first_cells(tokens: list[Token], header: str) -> dict[str, str]:
    """The first column -> the second, of the table whose first header cell is ``header``."""
    rows: dict[str, str] = {}
    inside, cells, header_seen = False, [], False
    for token in tokens:
        if token.type == "table_open":
            inside, header_seen = True, False
        elif token.type == "table_close":
            inside = False
        elif inside and token.type == "inline":
            cells.append(token.content)
        elif inside and token.type == "tr_close":
            if not header_seen:
                header_seen, matching = True, cells[:1] == [header]
            elif matching:
                rows[cells[0].strip("`")] = cells[1]
            cells = []
    return rows


def test_the_generated_list_is_the_list_doctor_gives_a_tenant_declaring_every_kind() -> None:
    _, expected = every_kind_needs()
    assert _generated_block(_tokens()) == expected, (
        "docs/onboarding.md is out of date: run `.venv/bin/python tests/unit/test_onboarding_doc.py`"
    )


GRAPH_PERMISSION = re.compile(r"\b(?:[A-Z][A-Za-z]+\.)+(?:Read|ReadWrite|ReadBasic)(?:\.[A-Z][A-Za-z]+)*\b")


def test_every_graph_permission_named_is_one_doctor_checks_and_each_is_explained() -> None:
    needs, _ = every_kind_needs()
    tokens = _tokens()
    table = _table_first_cells(tokens, "Graph application permission")
    assert set(table) == set(needs.graph), "the Graph permission table differs from the needs"
    assert all(len(what.split()) >= 4 for what in table.values()), "say what each permission is for"
    named = set(GRAPH_PERMISSION.findall(_prose(tokens)))
    assert named <= set(needs.graph), f"named but never checked: {sorted(named - set(needs.graph))}"


def test_every_dataverse_privilege_named_is_a_need() -> None:
    needs, _ = every_kind_needs()
    named = set(re.findall(r"\bprv[A-Z][A-Za-z_]+\b", _prose(_tokens())))
    held = {n.casefold() for n in needs.privileges}
    assert {n for n in named if n.casefold() not in held} == set()


def test_the_readme_links_the_onboarding_guide() -> None:
    assert "](docs/onboarding.md)" in (REPO / "README.md").read_text("utf-8")


def regenerate() -> None:
    """Rewrite the generated block of docs/onboarding.md from the needs."""
    text = DOC.read_text("utf-8")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    write_atomic(DOC, f"{head}{BEGIN}\n{every_kind_needs()[1]}{END}{tail}".encode())


if __name__ == "__main__":
    regenerate()
