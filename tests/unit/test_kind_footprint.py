"""How far one kind's knowledge spreads (issue 17): every kind is named in at most 5 product
modules outside its own two, its kind module (``reconciler/kinds/``) and its provider module(s).

Every product module is counted (``reconciler/``; the sandbox, ``rescue_sandbox/``, is not
product code). A module names a kind when:

- a name in its code is the kind's resource type (``RescueGroup``), or it imports the kind's
  module (``from reconciler.kinds import rescue_group``: it asks that kind by name);
- or one of its strings is the kind's name or starts with it and a colon (``"rescue_group"``,
  ``f"rescue_group:{path}"``).

Comments and prose do not count (Python's tokenizer tells them apart). The tenant model
(``config/models.py``) counts for each kind it declares: its section classes are named like the
resource types, and it is one of the three modules a new field touches. A string that is the
kind's name but means something else is not the kind: a key of the tenant file or the solution
profile in a YAML location (``("solution", "package")``, ``data.get("integration")``), the
LogMeIn integration as a service whose hosts are checked, a technician rule's source (a rule
whose members are a Rescue group), a word in a sentence. Those uses are listed, module by
module, in ``NOT_THE_KIND`` with what the string means there; the list is checked both ways (an
entry whose module names the kind another way, or no longer names it, fails).

One such vocabulary is listed apart, in ``PROFILE_SECTION``: the solution profile's sections
(``profile/columns.py:Section``, the Dataverse tables of the solution: ``integration``,
``technician_settings``, ``session``). A module that walks the profile's tables by section (the
column table, the profile's types, the pre-read schema check, ``profile discover``) names the
*table* ``integration`` as it names ``session``; the kind is the resource the reconciler
compares. An entry there is checked like the others, and its string must be a section.

A kind's provider modules are the modules under ``reconciler/providers/`` that hold its writes
(``kind = "<kind>"``, its line of the provider's table) or name that kind and no other. The registry counts as one module, as the issue counts it:
it is spread over the kind modules (each kind's entry names the kinds it ``depends_on``), so the
kind package's other modules count once together.
"""

from __future__ import annotations

import io
import re
import tokenize
from functools import cache
from pathlib import Path
from typing import get_args

import pytest

from reconciler.kinds import REGISTRY, ResourceKind
from reconciler.profile.columns import Section

# Python 3.12 tokenizes f-strings; 3.11 gives one STRING token.
FSTRING_START = getattr(tokenize, "FSTRING_START", -1)
FSTRING_MIDDLE = getattr(tokenize, "FSTRING_MIDDLE", -1)
ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ROOT / "reconciler"
BOUND = 5
REGISTRY_MODULES = "reconciler/kinds/"

# (module, kind): the string equal to the kind's name means something else there (see above).
NOT_THE_KIND: dict[tuple[str, str], str] = {
    ("reconciler/config/loader.py", "solution"): "the tenant file's `solution.package` location",
    ("reconciler/config/roundtrip.py", "solution"): "the tenant file's `solution.min_version` location",
    ("reconciler/config/checks.py", "integration"): "the tenant file's `integration:` section (org_url)",
    (
        "reconciler/config/hosts.py",
        "integration",
    ): "the LogMeIn integration service, and `integration.endpoint`",
    ("reconciler/config/templates.py", "rescue_group"): "a technician rule whose members are a Rescue group",
    ("reconciler/cli/validate_cmd.py", "technician"): "the word of validate's count (`3 technicians`)",
    (
        "reconciler/render/least_privilege.py",
        "solution",
    ): "Dataverse's `solution` system table (its privileges)",
    ("reconciler/report/table.py", "solution"): "the report's column of the installed solution version",
    ("reconciler/report/reader.py", "solution"): "the name of doctor's check that reads the solution version",
}

# (module, kind): the string is the solution profile's section of that name (see above).
PROFILE_SECTION: dict[tuple[str, str], str] = {
    ("reconciler/profile/columns.py", "integration"): "the section of each column line, `TABLE_LABELS`",
    (
        "reconciler/profile/model.py",
        "integration",
    ): "the section whose column lines type `IntegrationColumns`",
    (
        "reconciler/engine/schema_check.py",
        "integration",
    ): "the section's table, and its choice column checked",
    ("reconciler/engine/discover.py", "integration"): "the section's table, and its choice values found",
}

# A string token's prefix and opening quote(s).
_STRING_START = re.compile("^[rRbBfFuU]*('''|\"\"\"|'|\")")


def _kinds_named(text: str, *, strings_too: bool = True) -> frozenset[str]:
    names: set[str] = set()
    strings: set[str] = set()
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.NAME:
            names.add(token.string)
        elif token.type == tokenize.STRING:
            strings.add(_STRING_START.sub("", token.string))
        elif token.type == FSTRING_MIDDLE:  # Python 3.12 splits an f-string into tokens
            strings.add(token.string)
    imported = set(_KIND_MODULE_IMPORT.findall(text)) | {
        name.strip() for group in _KINDS_IMPORT.findall(text) for name in group.strip("()").split(",")
    }
    return frozenset(
        kind.name
        for kind in REGISTRY
        if kind.type.__name__ in names
        or _module_name(kind) in imported
        or (strings_too and any(_is_kind_string(kind.name, text) for text in strings))
    )


def _module_name(kind: ResourceKind) -> str:
    return type(kind).__module__.rsplit(".", 1)[1]


# ``reconciler.kinds.rescue_group`` and ``from reconciler.kinds import rescue_group, consent``.
_KIND_MODULE_IMPORT = re.compile(r"\breconciler\.kinds\.(\w+)")
_KINDS_IMPORT = re.compile(r"^from reconciler\.kinds import (\([^)]*\)|[^\n]+)", re.M)


def _is_kind_string(kind: str, text: str) -> bool:
    """``text`` (a string's body from its opening quote on) is ``kind`` or ``kind:...``."""
    return text.startswith(kind) and text[len(kind) : len(kind) + 1] in ("'", '"', ":")


@cache
def _product_modules() -> dict[str, frozenset[str]]:
    """Every product module and the kinds it names."""
    return {
        path.relative_to(ROOT).as_posix(): _kinds_named(path.read_text("utf-8"))
        for path in sorted(PRODUCT.rglob("*.py"))
        if "sandbox" not in path.relative_to(PRODUCT).parts
    }


def _footprint(kind: ResourceKind, named: dict[str, frozenset[str]]) -> tuple[list[str], set[str]]:
    """(the modules outside the kind's own that name it, the kind's own modules)."""
    own = {type(kind).__module__.replace(".", "/") + ".py"}
    own |= {
        path
        for path, kinds in named.items()
        if path.startswith("reconciler/providers/")
        and (kinds == {kind.name} or f'kind = "{kind.name}"' in (ROOT / path).read_text("utf-8"))
    }
    outside = {
        REGISTRY_MODULES if path.startswith(REGISTRY_MODULES) else path
        for path, kinds in named.items()
        if kind.name in kinds
        and path not in own
        and (path, kind.name) not in NOT_THE_KIND
        and (path, kind.name) not in PROFILE_SECTION
    }
    return sorted(outside), own


@pytest.mark.parametrize("kind", REGISTRY, ids=lambda k: k.name)
def test_a_kind_is_named_in_at_most_five_modules_outside_its_own(kind: ResourceKind) -> None:
    outside, own = _footprint(kind, _product_modules())
    assert own, "the kind module itself was not found"
    assert len(outside) <= BOUND, f"{kind.name} is named in {len(outside)} modules: {outside}"


@pytest.mark.parametrize(("module", "kind"), sorted(NOT_THE_KIND | PROFILE_SECTION))
def test_a_string_that_is_not_the_kind_is_only_a_string(module: str, kind: str) -> None:
    """The exclusion covers strings only: the module still has the string, and names neither
    the kind's type nor its module (else it knows the kind, and counts)."""
    text = (ROOT / module).read_text("utf-8")
    assert kind in _kinds_named(text), f"{module} no longer has {kind!r}: remove its entry"
    assert kind not in _kinds_named(text, strings_too=False), f"{module} names {kind} by type or module"


@pytest.mark.parametrize(("module", "kind"), sorted(PROFILE_SECTION))
def test_a_profile_section_exclusion_is_a_section_of_the_profile(module: str, kind: str) -> None:
    assert kind in get_args(Section), f"{kind!r} is not a section of the solution profile"
    assert (module, kind) not in NOT_THE_KIND, "listed twice"


def test_the_count_sees_a_kind_named_in_a_new_module() -> None:
    """The measure is not blind: every kind module names its kind, and a module that imports a
    kind's module names that kind."""
    modules = _product_modules()
    for kind in REGISTRY:
        assert kind.name in modules[type(kind).__module__.replace(".", "/") + ".py"], kind.name
    assert _kinds_named("from reconciler.kinds import rescue_group\n") == {"rescue_group"}
    assert _kinds_named("from reconciler.kinds.consent import KIND\n") == {"consent"}
    assert _kinds_named("x = 'consent'\n") == {"consent"}
    assert _kinds_named("x = f'rescue_group:{path}'\n") == {"rescue_group"}
    assert _kinds_named("from reconciler.resources import SessionKey\n") == {"session_key"}
    assert _kinds_named("# a Solution profile\nx = 'a solution'\n") == frozenset()


# The registry (reconciler/kinds/__init__.py) is not generic: it names each kind module once.
GENERIC = [
    "reconciler/diff/compare.py",
    "reconciler/diff/desired.py",
    "reconciler/engine/export.py",
    "reconciler/kinds/base.py",
    "reconciler/plan/checklist.py",
    "reconciler/render/common.py",
]


@pytest.mark.parametrize("module", GENERIC)
def test_the_generic_code_names_no_kind(module: str) -> None:
    """The diff, the export and the checklist walk the registry and call each kind's hooks
    (STYLE 14): no kind name and no resource type (so no ``isinstance`` chain over them)."""
    assert _product_modules()[module] == frozenset()
