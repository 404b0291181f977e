"""rescue-dynamics-reconciler: declarative state for the LogMeIn Rescue and Dynamics 365 integration."""

__version__ = "0.1.0"
