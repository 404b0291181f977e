"""The solution's tables and columns, declared once.

Each column of the LogMeIn solution the reconciler reads or writes has one line here: its role
(the key under ``columns:`` in ``solution_profile.yaml``, and the resource field it fills), the
Dataverse attribute types it may have, its display labels in English and Italian, the table
(section) it belongs to, and how its value reads. The profile's column types
(``profile/model.py``), the pre-read schema check (``engine/schema_check.py``), ``profile
discover`` (``engine/discover.py``) and the Dataverse mapping (``providers/dynamics/``) all
derive from this table, so a new column is one line here plus its logical name in the YAML.

The logical names themselves are data (the YAML), never here: they are guesses a tenant may
override. The labels are what ``profile discover`` matches in the org's metadata.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Section = Literal["integration", "technician_settings", "session"]
# How a column's value reads and is written (``providers/dynamics/``):
#   text / url / guid: trimmed text (URLs with scheme and host lower-cased, GUIDs lower-cased);
#   choice: an option-set value named by the profile's ``instance_values``;
#   boolean: a Dataverse Boolean; secret: compared only as a keyed digest, written from its
#   reference; datetime: read by health only; runtime: filled by the integration at run time,
#   never read into a resource, written or exported.
Value = Literal["text", "url", "guid", "choice", "boolean", "secret", "datetime", "runtime"]

TEXT = ("String", "Memo")
_TYPES: dict[Value, tuple[str, ...]] = {
    "text": TEXT,
    "url": TEXT,
    "guid": TEXT,
    "secret": TEXT,
    "runtime": TEXT,
    "choice": ("Picklist",),
    "boolean": ("Boolean",),
    "datetime": ("DateTime",),
}


@dataclass(frozen=True)
class Column:
    section: Section
    role: str  # profile key under `columns:`; for the integration and settings rows, the resource field
    value: Value
    english: tuple[str, ...]  # display labels, the first one named in messages
    italian: tuple[str, ...] = ()
    description: str = ""

    @property
    def types(self) -> tuple[str, ...]:
        """The Dataverse AttributeTypes the column may have."""
        return _TYPES[self.value]

    @property
    def labels(self) -> tuple[str, ...]:
        return (*self.english, *self.italian)

    @property
    def mapped(self) -> bool:
        """Read into a resource and written from it (a runtime or health-only column is not)."""
        return self.section != "session" and self.value != "runtime"


COLUMNS: tuple[Column, ...] = (
    # The configuration window's singleton row.
    Column("integration", "instance", "choice", ("Instance",), ("Istanza",)),
    Column("integration", "endpoint", "url", ("Endpoint",)),
    Column("integration", "company_id", "text", ("Company ID",), ("ID azienda", "ID dell'azienda")),
    Column("integration", "sso_password", "secret", ("SSO Password",), ("Password SSO",)),
    Column(
        "integration",
        "org_url",
        "url",
        ("Organization URL", "Org URL"),
        ("URL dell'organizzazione", "URL organizzazione"),
    ),
    Column(
        "integration",
        "office365_tenant_id",
        "guid",
        ("Office 365 Tenant ID",),
        ("ID tenant di Office 365", "ID tenant Office 365"),
    ),
    Column(
        "integration",
        "require_active_technician_console",
        "boolean",
        ("Require active Technician Console",),
        ("Richiedi la console del tecnico attiva", "Richiedi console del tecnico attiva"),
    ),
    Column(
        "integration",
        "close_ticket_on_session_end",
        "boolean",
        ("Close ticket on session end",),
        ("Chiudi il ticket al termine della sessione", "Chiudi ticket a fine sessione"),
    ),
    Column(
        "integration",
        "reassign_case_on_session_start",
        "boolean",
        ("Reassign case on session start",),
        ("Riassegna il caso all'avvio della sessione", "Riassegna caso all'avvio della sessione"),
    ),
    Column(
        "integration",
        "do_not_pass_custom_field_1",
        "boolean",
        ("Do not pass Custom Field 1",),
        ("Non passare il campo personalizzato 1",),
    ),
    # The per-user "LogMeIn settings" row.
    Column(
        "technician_settings", "technician_id", "text", ("Technician ID",), ("ID del tecnico", "ID tecnico")
    ),
    Column("technician_settings", "sso_id", "text", ("SSO ID",), ("ID SSO",)),
    Column(
        "technician_settings",
        "auth_code",
        "runtime",
        ("Authentication code", "Auth code"),
        ("Codice di autenticazione",),
    ),
    # The LogMeIn Session rows the integration writes from Rescue's session-end post.
    Column(
        "session",
        "technician_id",
        "text",
        ("Technician ID",),
        ("ID del tecnico", "ID tecnico"),
        "The Rescue technician (node) ID of the session.",
    ),
    Column(
        "session",
        "start_time",
        "datetime",
        ("Start Time", "Session Start"),
        ("Ora di inizio", "Inizio sessione"),
        "When the technician picked the session up (DateTime).",
    ),
    Column(
        "session",
        "end_time",
        "datetime",
        ("End Time", "Session End"),
        ("Ora di fine", "Fine sessione"),
        "When the session was closed (DateTime).",
    ),
)

# Display labels of the solution's tables, its Session Key and the instance options (English
# first, then Italian), matched by `profile discover`.
TABLE_LABELS: dict[Section, tuple[str, ...]] = {
    "integration": (
        "LogMeIn Rescue Configuration",
        "Rescue Configuration",
        "Configurazione di LogMeIn Rescue",
        "Configurazione LogMeIn Rescue",
    ),
    "technician_settings": ("LogMeIn Settings", "Impostazioni LogMeIn", "Impostazioni di LogMeIn"),
    "session": ("LogMeIn Session", "Sessione LogMeIn", "Sessione di LogMeIn"),
}
KEY_LABELS = ("Session Key", "Chiave di sessione", "Chiave della sessione")
INSTANCE_LABELS = {"production": ("Production", "Produzione"), "beta": ("Beta",)}


def columns_of(section: str) -> tuple[Column, ...]:
    """The section's columns, in table order."""
    return tuple(c for c in COLUMNS if c.section == section)


def column(section: str, role: str) -> Column:
    found = [c for c in COLUMNS if c.section == section and c.role == role]
    if len(found) != 1:
        raise KeyError(f"{section}.columns.{role}")
    return found[0]
