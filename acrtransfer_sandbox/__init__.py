"""The ACR Transfer sandbox: two offline clouds (identity, ARM, Key Vault, storage, registries) for the real az."""
