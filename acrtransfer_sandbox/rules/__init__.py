"""The clouds' resources and rules, pure and without HTTP: roles, vaults, pipelines and runs, tenancy, SAS."""
