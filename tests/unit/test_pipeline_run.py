# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
from azext_acrtransfer.pipeline_run import describe_failure, failure_hint, is_failed


def pipeline(mode, secret='https://kv1.vault.azure.net/secrets/sas'):
    storage = {'storageAccessMode': mode}
    if secret:
        storage['keyVaultUri'] = secret
    return {'identity': {'principalId': 'p-42'}, 'properties': {'target': storage}}


def failed_run(message):
    return {'name': 'run1', 'properties': {'provisioningState': 'Failed',
                                           'response': {'status': 'Failed', 'pipelineRunErrorMessage': message}}}


def test_failed_runs_are_recognised_by_either_state():
    assert is_failed(failed_run('x'))
    assert is_failed({'properties': {'provisioningState': 'Succeeded', 'response': {'status': 'Failed'}}})
    assert not is_failed({'properties': {'provisioningState': 'Succeeded', 'response': {'status': 'Succeeded'}}})


def test_key_vault_403_hints_at_secret_get():
    message = ("Failed to get secret from Key Vault https://kv1.vault.azure.net/secrets/sas: 403 Forbidden: "
               "the identity does not have secrets get permission on key vault 'kv1'")
    text = describe_failure(failed_run(message), pipeline('SasToken'))
    assert text.startswith("Pipeline run 'run1' failed: Failed to get secret")
    assert 'az keyvault set-policy --name kv1 --secret-permissions get --object-id p-42' in text.splitlines()[1]


def test_storage_403_hints_depend_on_the_access_mode():
    message = 'Storage request failed: 403 AuthorizationFailure (This request is not authorized)'
    assert 'srt=sco' in failure_hint(message, pipeline('SasToken'))
    assert 'Storage Blob Data' in failure_hint(message, pipeline('ManagedIdentity', secret=None))


def test_other_failures_get_no_hint_and_sas_signatures_are_redacted():
    run = failed_run('Blob https://a.blob.core.windows.net/c/b?sv=1&sig=SeCrEt already exists')
    text = describe_failure(run, pipeline('SasToken'))
    assert 'SeCrEt' not in text and '\n' not in text
    assert describe_failure({'name': 'r', 'properties': {'provisioningState': 'Failed'}}, pipeline('SasToken')) == \
        "Pipeline run 'r' failed: the service gave no error message"
