"""What a kind is: the template every kind module fills (STYLE 7, 14).

A kind module (``reconciler/kinds/<kind>.py``) holds everything the pure side knows about one
kind, as octoDNS's ``record/mx.py`` does for a record type: its registry entry (title,
dependencies), how its desired resources are built from the tenant model, how they are
compared, its manual steps, and its part of an exported tenant file. The resource type itself
lives in the kind module too and registers itself (``@register``, ``resources/registry.py``):
the saved-plan reader (``plan/``, below this layer) looks it up there by the kind's name.

Every field of the resource type is identity (``key_fields``), compared, or in ``not_compared``
with the reason. ``compared`` is derived from the type: every ``compare=True`` field that is not
identity (a plain new field is compared with no edit of the kind's hooks); an excluded field
has ``compare=False`` on the type and its reason in ``not_compared``. A class that leaves a field out, or names one the type does
not have, is refused when it is defined (``ResourceKind.__init_subclass__``): a declared field
is never silently ignored.

Pure (STYLE 4): no I/O, no HTTP, no clock.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from reconciler.config.models import Prune, Tenant
from reconciler.kinds.needs import TenantNeeds
from reconciler.plan import Change, Create, FieldChange, Update
from reconciler.profile import SolutionProfile
from reconciler.resources import Kind, LiveState, Resource, Sensitive, Unmanaged

# In a comparison's declared idents: every object of that kind may be declared (a technician
# rule's source could not be read), so none is reported unmanaged or pruned.
ANY_KEY = "*"


@dataclass(frozen=True)
class DesiredContext:
    """What building desired resources needs beyond the tenant model (looked up elsewhere)."""

    profile: SolutionProfile
    sso_password: Sensitive | None
    root_business_unit: str | None


@dataclass(frozen=True)
class ExportContext:
    """One tenant's live state as the exporter read it, and the names it writes for secrets.

    ``live`` holds every resource read (Dynamics, Rescue, Graph); ``node_emails`` maps each
    Rescue node ID of the hierarchy to its e-mail ("" for a group or a nameless node);
    ``group_names`` maps each group's node ID to its names, root first (a name may hold a
    ``/``: the names are never joined here)."""

    live: LiveState
    profile: SolutionProfile
    node_emails: Mapping[str, str]
    group_names: Mapping[str, tuple[str, ...]]
    root_business_unit: str | None
    org_url: str
    entra_tenant_id: str
    sso_password_ref: str


class Comparison(Protocol):
    """What a kind's comparison hooks may see and record (implemented by ``diff/compare.py``)."""

    live: LiveState
    prune: Prune
    entra_tenant_id: str

    def add(self, change: Change) -> None:
        """Record a change (or a manual step, or an unknown) of the plan."""

    def add_unmanaged(self, item: Unmanaged) -> None:
        """Record a live object (or part of one) the tenant files do not declare."""

    def pending(self, change_id: str) -> tuple[str, ...]:
        """``(change_id,)`` when that change is planned and actionable, else ``()``."""

    def declared(self) -> set[tuple[str, str]]:
        """The ident of every object the tenant files declare, resolved or not."""


def field_changes(desired: Resource, live: Resource, names: tuple[str, ...]) -> tuple[FieldChange, ...]:
    """Field-level differences over ``names`` that the desired side manages (not None).

    Secrets are compared by digest and shown as sensitive; everything else by equality."""
    items: list[FieldChange] = []
    for name in names:
        want = getattr(desired, name)
        if want is None:
            continue
        have = getattr(live, name)
        if isinstance(want, Sensitive):
            if not isinstance(have, Sensitive) or want != have:
                items.append(FieldChange(name, None, None, sensitive=True))
            continue
        if want != have:
            items.append(FieldChange(name, have, want))
    return tuple(items)


class ResourceKind(ABC):
    """One kind. Subclasses set the class attributes and fill the abstract hooks.

    Class attributes (all required unless a default is shown):

    - ``type``: the resource type (its ``kind`` is this kind's name);
    - ``title``: how the kind reads in plans and reports;
    - ``depends_on``: kinds whose changes must be applied first (the registry's order follows);
    - ``prerequisite``: every change of a kind that depends on this one waits for this kind's
      actionable change (the solution: nothing in it can be written before it is installed);
    - ``section``: the tenant-file key this kind is declared and exported under, or None when it
      is declared through another kind's section (a Rescue technician, by its mapping);
    - ``compared``: the fields a live difference of which is a planned change (derived from the
      type's ``compare=True`` fields unless the class sets it; checked either way);
    - ``not_compared``: every other non-identity field, with the reason it is not compared;
    - ``manual_steps``: whether comparing this kind can end in a manual step (the fleet checklist
      says a tenant's steps are not known while such a kind's live state is unknown);
    - ``create_adopts_existing``: whether a planned create of an object that exists by apply time
      still holds (its writes adopt it, "already exists"), so ``apply --plan`` does not refuse it.
    """

    type: ClassVar[type[Resource]]
    title: ClassVar[str]
    depends_on: ClassVar[tuple[Kind, ...]] = ()
    prerequisite: ClassVar[bool] = False
    section: ClassVar[str | None]
    compared: ClassVar[tuple[str, ...]]
    not_compared: ClassVar[Mapping[str, str]]
    manual_steps: ClassVar[bool] = False
    create_adopts_existing: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not hasattr(cls, "compared") and hasattr(cls, "type"):
            cls.compared = compared_fields(cls.type)
        for attribute in ("type", "title", "section", "compared", "not_compared"):
            if not hasattr(cls, attribute):
                raise TypeError(f"kind {cls.__name__} does not set {attribute!r}")
        problems = field_coverage_problems(cls.type, cls.compared, cls.not_compared)
        if problems:
            raise TypeError(f"kind {cls.__name__}: " + "; ".join(problems))

    @property
    def name(self) -> Kind:
        return self.type.kind

    # -- the desired side ---------------------------------------------------------------------

    @abstractmethod
    def desired(self, tenant: Tenant, context: DesiredContext) -> list[Resource]:
        """The resources of this kind the tenant model declares, in apply order among
        themselves ([] when the kind is declared only through references the resolution stage
        turns into resources, ``diff/resolve.py``)."""

    # -- the comparison -----------------------------------------------------------------------

    def planned_while_unknown(self, want: Resource) -> bool:
        """Whether ``want`` is planned although its live state is unknown (a create that does
        not depend on what could not be read). Default: never."""
        return False

    def plan(
        self, want: Resource, have: Resource | None, deps: tuple[str, ...], comparison: Comparison
    ) -> None:
        """Record what ``want`` needs given ``have`` (None: absent live). ``deps`` are the
        prerequisite changes the kind's registry entry asks for. Default: a create when absent,
        else an update of the compared fields that differ."""
        deps = deps + self.create_deps(want, comparison)
        if have is None:
            comparison.add(Create(self.name, want.key, deps, desired=want))
            return
        items = self.field_changes(want, have)
        if items:
            comparison.add(Update(self.name, want.key, deps, want, have, items))

    def field_changes(self, want: Resource, have: Resource) -> tuple[FieldChange, ...]:
        """The compared fields of ``want`` that differ from ``have``."""
        return field_changes(want, have, self.compared)

    def reads_details(self, want: Resource) -> bool:
        """Whether comparing ``want`` needs the details read, the live step after resolution
        (``engine/live.py:read_details``: what the directory read does not carry). Default: no."""
        return False

    def create_deps(self, want: Resource, comparison: Comparison) -> tuple[str, ...]:
        """Changes of other objects ``want``'s change must wait for. Default: none."""
        return ()

    def after_all(self, comparison: Comparison) -> None:
        """Called once after every desired resource was compared: live objects of this kind
        nothing declares (unmanaged, or deleted with prune). Default: none are looked for."""
        return

    # -- presentation --------------------------------------------------------------------------

    def label(self, resource: Resource) -> str | None:
        """What the key alone does not say about a live object, shown beside it when it is
        updated (None: nothing). Default: nothing."""
        return None

    # -- what it needs of the services ---------------------------------------------------------

    def needs(self, tenant: Tenant, profile: SolutionProfile, need: TenantNeeds) -> None:
        """Record what this kind, as ``tenant`` declares it, needs of the services (each
        Dataverse privilege, solution table and Graph permission, with why); ``doctor`` checks
        them and the schema check verifies the tables (``engine/needs.py`` collects every kind's).
        Default: nothing beyond what every run reads."""
        return

    # -- export --------------------------------------------------------------------------------

    @abstractmethod
    def export(self, context: ExportContext) -> list[str]:
        """This kind's lines of an exported tenant file (its ``section``, starting with a blank
        line), such that planning the file against the same live state is empty; [] when the
        kind has nothing to export or is exported in another kind's section."""


def compared_fields(resource: type[Resource]) -> tuple[str, ...]:
    """The fields of ``resource`` a difference of which is a change: ``compare=True``, not
    identity (the fields ``content()`` and the live version's hash hold)."""
    identity = set(resource.key_fields)
    return tuple(f.name for f in dataclasses.fields(resource) if f.compare and f.name not in identity)


def copied_fields(model: object, resource: type[Resource], **converted: Any) -> dict[str, Any]:
    """The arguments of a desired ``resource``: the tenant model's values for the fields it has
    under the same name, then ``converted`` (the fields the builder converts or computes). A
    plain field (text, number, yes/no) declared in the tenant model and the type is then passed
    on with no edit of the builder."""
    names = {f.name for f in dataclasses.fields(resource)} - {"meta"}
    return {name: getattr(model, name) for name in names if hasattr(model, name)} | converted


def field_coverage_problems(
    resource: type[Resource], compared_fields: tuple[str, ...], not_compared: Mapping[str, str]
) -> list[str]:
    """Fields of a kind's resource type neither identity, compared nor explicitly excluded,
    and names that are not fields of the type (a typo would exclude nothing)."""
    fields = {f.name for f in dataclasses.fields(resource)} - {"meta"}
    identity = set(resource.key_fields)
    compared = set(compared_fields)
    excluded = set(not_compared)
    problems = [
        f"field {name!r} of {resource.__name__} is neither compared nor in not_compared"
        for name in sorted(fields - identity - compared - excluded)
    ]
    problems += [
        f"{name!r} is not a field of {resource.__name__}" for name in sorted((compared | excluded) - fields)
    ]
    problems += [f"field {name!r} is both compared and not compared" for name in sorted(compared & excluded)]
    problems += [
        f"identity field {name!r} is also listed as compared or not"
        for name in sorted(identity & (compared | excluded))
    ]
    problems += [
        f"field {name!r} is excluded without a reason"
        for name, why in not_compared.items()
        if not why.strip()
    ]
    # The live version of an object without an ETag hashes ``content()`` (the dataclass fields
    # with ``compare=True``): it must cover exactly the compared fields.
    hashed = {f.name for f in dataclasses.fields(resource) if f.compare} - {"meta"} - identity
    problems += [
        f"compared field {name!r} has compare=False on the type" for name in sorted(compared - hashed)
    ]
    problems += [
        f"excluded field {name!r} has compare=True on the type" for name in sorted(excluded & hashed)
    ]
    return problems
