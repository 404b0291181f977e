"""The permissions a Rescue technician group can be given through the API (pure data).

The closed set is the ``permission`` parameter of ``setGroup_v2`` as the Rescue API reference
lists it (API_Rescue_setGroup_v2.html), in that order; the reconciler sets permissions with
setGroup_v2 and reads them with getGroup_v2. Names ending in ``NotAllowed`` (and
``ChatSuppression``) deny rather than grant. ``TechEndSessionSurvey`` is documented for setGroup
(v1) only, which cannot carry the v2 names, so it is not offered (set it in the Admin Center).
The Admin Center shows its own labels; the four whose API name is plain are kept for hints.
"""

from __future__ import annotations

import difflib

GROUP_PERMISSIONS: tuple[str, ...] = (
    "RemoteControl",
    "RemoteView",
    "SendFile",
    "SendURL",
    "ViewSystemInformation",
    "RebootClientComputer",
    "ReceiveFile",
    "SessionRecording",
    "PrivateSessions",
    "OneTimePermission",
    "FileManagement",
    "ScriptRunning",
    "UnlimitedScripting",
    "SessionTransferNotAllowed",
    "EditCustomField",
    "WindowsCredentialsRequestNotAllowed",
    "ClipboardSynchronizationNotAllowed",
    "CallingCardDeployment",
    "ScreenSharingNotAllowed",
    "CollaborationNotAllowed",
    "DeviceConfiguration",
    "ChatSuppression",
    "ChatSuppressionConsoleSwitch",
    "UnattendedAccess",
    "SessionHoldNotAllowed",
    "ConnectOnLan",
)

# Admin Center labels (How to Create a Technician Group and Assign Permissions) -> API names.
ADMIN_CENTER_LABELS = {
    "launch remote control": "RemoteControl",
    "launch desktop viewing": "RemoteView",
    "send files": "SendFile",
    "receive files": "ReceiveFile",
}

UNDECLARED = "Rescue's defaults (not documented: review them in the Admin Center)"

_ORDER = {name: i for i, name in enumerate(GROUP_PERMISSIONS)}


def permission_problem(name: str) -> str | None:
    """Why ``name`` is not a permission setGroup_v2 takes (with a hint), or None."""
    if name in _ORDER:
        return None
    hint = ADMIN_CENTER_LABELS.get(name.strip().casefold())
    if hint is None:
        exact = {p.casefold(): p for p in GROUP_PERMISSIONS}.get(name.strip().casefold())
        close = difflib.get_close_matches(name, GROUP_PERMISSIONS, n=1, cutoff=0.6)
        hint = exact or (close[0] if close else None)
    if name.strip() == "TechEndSessionSurvey":
        return "TechEndSessionSurvey is documented for setGroup (v1) only: set it in the Admin Center"
    suffix = f"; did you mean {hint}?" if hint else " (the names of setGroup_v2's permission parameter)"
    return f"is not a Rescue group permission{suffix}"


def canonical(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Known names in the documented order, each once; unknown ones (a live read) after them."""
    known = sorted({n for n in names if n in _ORDER}, key=_ORDER.__getitem__)
    return tuple(known) + tuple(sorted({n for n in names if n not in _ORDER}))
