"""The Rescue API emulator: company state (``model``) and its plain-text HTTP face (``api``)."""

from rescue_sandbox.rescue.api import RescueService, render
from rescue_sandbox.rescue.model import RescueCompany
from rescue_sandbox.rescue.node import Node
from rescue_sandbox.rescue.status import RescueStatus

__all__ = ["Node", "RescueCompany", "RescueService", "RescueStatus", "render"]
