"""The solution profile: the Dataverse logical names of the LogMeIn Rescue solution.

The names are not public, so they live in one data file (``solution_profile.yaml``) with
defaults a tenant may override. Nothing else in the project hard-codes them.
"""

from reconciler.profile.model import (
    ApplicationUserProfile,
    IntegrationProfile,
    RescueProfile,
    SessionProfile,
    SolutionProfile,
    SolutionUniqueName,
    TechnicianSettingsProfile,
    default_profile,
    default_profile_data,
    effective_profile,
)

__all__ = [
    "ApplicationUserProfile",
    "IntegrationProfile",
    "RescueProfile",
    "SessionProfile",
    "SolutionProfile",
    "SolutionUniqueName",
    "TechnicianSettingsProfile",
    "default_profile",
    "default_profile_data",
    "effective_profile",
]
