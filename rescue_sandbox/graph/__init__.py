"""Microsoft Graph: a tenant's service principals (admin consent) and a group's transitive members."""
