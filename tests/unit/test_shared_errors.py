"""An error many tenants share is said once in every format, and shown escaped."""

from __future__ import annotations

from markdown_checks import CONTROL, assert_inert

from reconciler.plan import Plan, TenantPlan
from reconciler.render import render_markdown, render_text

EXPIRED = "Entra ID refused the credentials: AADSTS7000222 the client secret expired"


def _plan(error: str) -> Plan:
    return Plan(
        (
            *(TenantPlan(tenant=f"client-{i:03d}", desired_digest="d", error=error) for i in range(30)),
            TenantPlan(tenant="northwind", desired_digest="d", error="Dataverse answered 503"),
        )
    )


def test_thirty_tenants_with_one_error_give_one_paragraph_in_the_pr_comment() -> None:
    markdown = render_markdown(_plan(EXPIRED))
    assert markdown.count(EXPIRED) == 1
    assert "> **30 tenants failed with the same error:** " in markdown
    assert "client-000..client-029" in markdown  # the thirty names as one range
    assert markdown.count("<details") == 1  # northwind's own section only
    assert "Dataverse answered 503" in markdown
    assert_inert(markdown, own_headings=1)


def test_a_shared_error_is_shown_escaped_in_text_and_markdown() -> None:
    hostile = "refused\n::error title=pwned::x \u202e see https://evil.example @evil"
    plan = _plan(hostile)
    text = render_text(plan)
    # The message's own line break is kept, and the line it starts can be no runner command (the
    # runner reads `::` after leading spaces too): its first character is shown escaped.
    assert not [line for line in text.splitlines() if line.lstrip().startswith(("::", "##"))]
    assert "    \\x3a:error title=pwned::x" in text and not CONTROL.search(text)
    markdown = render_markdown(plan)
    assert markdown.count("::error") == 1
    assert_inert(markdown, own_headings=1)
