"""The registry of kinds is the one list: each kind module registers its resource type, the
registry orders dependencies first, and the layers below look types up by kind name."""

import subprocess
import sys
from pathlib import Path

from test_plan_render import sample_plan

from reconciler.config.models import Tenant
from reconciler.errors import EXIT_INCOMPLETE
from reconciler.kinds import BY_NAME, KINDS, MANUAL_STEP_KINDS, REGISTRY, kind_of, kind_title
from reconciler.plan import read_plan_file
from reconciler.render import render_json
from reconciler.resources import kinds, resource_type, resource_types
from reconciler.resources.base import Resource


def test_registry_lists_every_kind_once() -> None:
    assert len(set(KINDS)) == len(KINDS)
    assert tuple(kind.name for kind in REGISTRY) == KINDS == kinds()
    assert tuple(kind.type for kind in REGISTRY) == resource_types()


def test_every_resource_type_lives_in_its_kind_module() -> None:
    for kind in REGISTRY:
        assert kind.type.__module__ == type(kind).__module__, kind.name


def test_every_kind_comes_after_what_it_depends_on() -> None:
    position = {kind: i for i, kind in enumerate(KINDS)}
    for kind in REGISTRY:
        assert all(position[dep] < position[kind.name] for dep in kind.depends_on), kind.name


def test_lookup_by_kind_name() -> None:
    assert kind_title("technician") == "technician settings"
    assert kind_title("nonsense") == "nonsense"
    assert kind_of("consent") is BY_NAME["consent"]
    found = resource_type("rescue_group")
    assert found is not None and issubclass(found, Resource) and found.kind == "rescue_group"
    assert resource_type("nonsense") is None


def _fresh(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)


def test_a_lookup_before_the_kinds_are_loaded_is_refused_clearly() -> None:
    """Below the kind modules nothing can tell which kinds exist until ``reconciler.kinds`` is
    imported: a plan decoded earlier would know part of them, so the lookup refuses."""
    done = _fresh(
        "from reconciler.plan.reader import decode_plan\nfrom reconciler.resources import kinds\nkinds()"
    )
    assert done.returncode != 0
    assert "KindsNotLoaded: the resource kinds are not loaded: import reconciler.kinds" in done.stderr


def test_a_type_registered_twice_or_late_is_refused() -> None:
    done = _fresh(
        "import reconciler.kinds\n"
        "from reconciler.resources import register\n"
        "from reconciler.kinds.consent import Consent\n"
        "register(Consent)\n"
    )
    assert "registered after the registry was completed" in done.stderr


def test_sections_are_tenant_file_keys() -> None:
    sections = [kind.section for kind in REGISTRY if kind.section is not None]
    assert len(set(sections)) == len(sections)
    assert set(sections) <= set(Tenant.model_fields)


def test_manual_step_kinds_come_from_the_kind_modules() -> None:
    assert {"rescue_group", "consent", "solution", "session_key"} == MANUAL_STEP_KINDS


def test_a_saved_plan_is_decoded_through_the_cli_in_a_fresh_interpreter(tmp_path: Path) -> None:
    """The CLI loads the kind modules before any command: ``reconcile manual --from-plan`` in a
    new process decodes every resource of a saved plan (an update of the integration settings,
    a Rescue group's export step) by looking its type up by kind name."""
    saved = tmp_path / "plan.json"
    saved.write_text(render_json(sample_plan()), "utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "manual", "--from-plan", str(saved), "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    # Decoded: the sample plan's consent is unknown, so its manual steps are incomplete (exit 3).
    assert done.returncode == EXIT_INCOMPLETE, done.stderr
    assert "the manual steps of consent:app are not known" in done.stdout
    changes = read_plan_file(saved).tenants[0].changes
    assert [c.id for c in changes] == [c.id for c in sample_plan().tenants[0].changes]
    for change in changes:  # each decoded into its kind's registered type (a secret's digest is not saved)
        for resource in (getattr(change, "desired", None), getattr(change, "live", None)):
            assert resource is None or type(resource) is resource_type(change.kind)
