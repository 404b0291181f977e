"""Entra ID: the token endpoint (client secret, certificate, federated credentials), the tenants'
app registrations and service principals, and the directory of users and groups that Graph serves."""
