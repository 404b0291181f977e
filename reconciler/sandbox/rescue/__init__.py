"""The Rescue API emulator: company state (``model``) and its plain-text HTTP face (``api``)."""

from reconciler.sandbox.rescue.api import RescueService, render
from reconciler.sandbox.rescue.model import Node, RescueCompany
from reconciler.sandbox.rescue.status import RescueStatus

__all__ = ["Node", "RescueCompany", "RescueService", "RescueStatus", "render"]
