"""What every layer shares: the resource store, tokens, certificates, configuration, credentials, clock."""
