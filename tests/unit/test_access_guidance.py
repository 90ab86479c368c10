# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
from azext_acrtransfer._access_guidance import permission_guidance, storage_account_name, vault_name

UAI = '/subscriptions/s/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1'


def pipeline(kind, mode, options=None, identity=None):
    storage = {'type': 'AzureStorageBlobContainer', 'uri': 'https://acct1.blob.core.windows.net/transfer',
               'storageAccessMode': mode}
    if mode == 'SasToken':
        storage['keyVaultUri'] = 'https://kv1.vault.azure.net/secrets/sas'
    properties = {'target' if kind == 'export' else 'source': storage}
    if options:
        properties['options'] = options
    return {'name': 'pipe1', 'identity': identity or {'type': 'systemAssigned', 'principalId': 'p-123'},
            'properties': properties}


def test_sas_token_pipelines_need_the_secret():
    text = permission_guidance(pipeline('export', 'SasToken'), 'export')
    assert '--role "Key Vault Secrets User" --scope $(az keyvault show --name kv1 --query id --output tsv)' in text
    assert 'az keyvault set-policy --name kv1 --secret-permissions get --object-id p-123' in text
    assert '--assignee-object-id p-123' in text


def test_managed_identity_export_needs_contributor():
    text = permission_guidance(pipeline('export', 'ManagedIdentity'), 'export')
    assert '"Storage Blob Data Contributor"' in text and 'az storage account show --name acct1' in text


def test_managed_identity_import_needs_reader_unless_it_deletes_the_blob():
    assert '"Storage Blob Data Reader"' in permission_guidance(pipeline('import', 'ManagedIdentity'), 'import')
    text = permission_guidance(pipeline('import', 'ManagedIdentity', ['DeleteSourceBlobOnSuccess']), 'import')
    assert '"Storage Blob Data Contributor"' in text and 'DeleteSourceBlobOnSuccess' in text


def test_user_assigned_identity_principal_is_used():
    identity = {'type': 'userAssigned', 'userAssignedIdentities': {UAI: {'principalId': 'u-9', 'clientId': 'c'}}}
    text = permission_guidance(pipeline('import', 'SasToken', identity=identity), 'import')
    assert '--object-id u-9' in text


def test_names_from_uris():
    assert vault_name('https://kv1.vault.azure.net/secrets/s') == 'kv1'
    assert vault_name('https://127.0.0.1:8443/secrets/s') == '<vault name>'
    assert storage_account_name('https://127.0.0.1:10000/devstoreaccount1/c1') == 'devstoreaccount1'
    assert storage_account_name('https://acct1.blob.core.windows.net/c1') == 'acct1'


def test_guidance_names_the_grant_command_and_the_create_flag():
    resource = dict(pipeline('import', 'ManagedIdentity'), id='/subscriptions/s/resourceGroups/rg1/providers/'
                    'Microsoft.ContainerRegistry/registries/reg1/importPipelines/pipe1')
    text = permission_guidance(resource, 'import')
    assert 'az acr import-pipeline grant --resource-group rg1 --registry reg1 --name pipe1' in text
    assert '--grant-access' in text
