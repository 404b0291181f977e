"""Azure Key Vault emulator: the secrets data plane (get a secret), its tokens and its errors."""
