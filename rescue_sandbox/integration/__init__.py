"""The LogMeIn integration's own traffic: Rescue sessions written into Dataverse as the real
integration writes them, so health checks have something to find."""
