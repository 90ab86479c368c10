# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
from argparse import Namespace

import pytest
from azure.cli.core.azclierror import (
    ArgumentUsageError,
    InvalidArgumentValueError,
    MutuallyExclusiveArgumentError,
    RequiredArgumentMissingError,
)

from azext_acrtransfer import _validators as v

DIGEST = 'sha256:90659bf80b44ce6be8234e6ff90a1ac34acbeb826903b02cfa0da11c82cbc042'
UAI = ('/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/'
       'Microsoft.ManagedIdentity/userAssignedIdentities/id1')


def pipeline_namespace(**overrides):
    values = dict(registry_name='myregistry', pipeline_name='mypipeline',
                  storage_container_uri='https://mystorage.blob.core.windows.net/transfer',
                  secret_uri=None, storage_access_mode=None, options=None, assign_identity=None)
    values.update(overrides)
    return Namespace(**values)


def run_namespace(**overrides):
    values = dict(registry_name='myregistry', pipeline_name='mypipeline', run_name='myrun01',
                  pipeline_type='export', storage_blob='blob1', artifacts=['hello-world:latest'])
    values.update(overrides)
    return Namespace(**values)


# ---- names ----

@pytest.mark.parametrize('name', ['abcde', 'A1b2C3', 'x' * 50])
def test_names_of_5_to_50_letters_and_digits_are_accepted(name):
    v.validate_registry_name(Namespace(registry_name=name))


@pytest.mark.parametrize('name', ['abcd', 'x' * 51, 'my-registry', 'my_reg1', 'regé1'])
def test_other_registry_names_are_refused_with_the_rule(name):
    with pytest.raises(InvalidArgumentValueError, match='5-50 letters and digits'):
        v.validate_registry_name(Namespace(registry_name=name))


def test_existing_runs_created_by_a_source_trigger_stay_reachable():
    v.validate_existing_run(Namespace(registry_name='myregistry', run_name='mypipeline_7f3a9c'))
    with pytest.raises(InvalidArgumentValueError):
        v.validate_existing_run(Namespace(registry_name='myregistry', run_name='bad/name'))


def test_new_run_names_follow_the_strict_rule():
    with pytest.raises(InvalidArgumentValueError, match="--name 'run_1'"):
        v.validate_pipeline_run_create(run_namespace(run_name='run_1'))


# ---- storage container URI ----

@pytest.mark.parametrize('uri, expected', [
    ('https://mystorage.blob.core.windows.net/transfer', 'https://mystorage.blob.core.windows.net/transfer'),
    ('HTTPS://MyStorage.blob.core.windows.net/Export-Container/',
     'https://mystorage.blob.core.windows.net/export-container'),
    ('https://acct.blob.core.usgovcloudapi.net/abc', 'https://acct.blob.core.usgovcloudapi.net/abc'),
    ('https://127.0.0.1:10000/devstoreaccount1/transfer', 'https://127.0.0.1:10000/devstoreaccount1/transfer'),
    ('https://localhost:10000/account1/a-b-c', 'https://localhost:10000/account1/a-b-c'),
])
def test_storage_container_uris_are_accepted_and_lower_cased(uri, expected):
    assert v.normalize_storage_container_uri(uri) == expected


@pytest.mark.parametrize('uri', [
    'http://mystorage.blob.core.windows.net/transfer',          # not https
    'https:///transfer',                                         # no host
    'https://mystorage.blob.core.windows.net',                   # no container
    'https://mystorage.blob.core.windows.net/a/b',               # a blob path, not a container
    'https://mystorage.blob.core.windows.net/ab',                # too short
    'https://mystorage.blob.core.windows.net/' + 'a' * 64,      # too long
    'https://mystorage.blob.core.windows.net/a--b',              # double hyphen
    'https://mystorage.blob.core.windows.net/-abc',              # leading hyphen
    'https://mystorage.blob.core.windows.net/ab_c',              # underscore
    'https://127.0.0.1:10000/Dev_Store/transfer',               # bad account in path-style
    'storage/transfer',
])
def test_bad_storage_container_uris_are_refused_with_an_example(uri):
    with pytest.raises(InvalidArgumentValueError, match='e.g. https://mystorage.blob.core.windows.net/transfer'):
        v.normalize_storage_container_uri(uri)


def test_a_sas_token_in_the_container_uri_is_refused_without_echoing_it():
    with pytest.raises(InvalidArgumentValueError) as error:
        v.normalize_storage_container_uri('https://acct.blob.core.windows.net/transfer?sv=2022&sig=TOPSECRET')
    assert 'TOPSECRET' not in str(error.value) and 'sig=' not in str(error.value)
    assert 'Key Vault' in str(error.value)


# ---- secret URI ----

@pytest.mark.parametrize('uri', ['https://myvault.vault.azure.net/secrets/acrsas',
                                 'https://MyVault.vault.azure.net/secrets/ACR-sas/0123456789abcdef0123456789abcdef',
                                 'https://127.0.0.1:8443/secrets/sas-token'])
def test_secret_uris_are_accepted_and_lower_cased(uri):
    assert v.normalize_secret_uri(uri) == uri.lower()


@pytest.mark.parametrize('uri', ['http://myvault.vault.azure.net/secrets/acrsas',
                                 'https://myvault.vault.azure.net/keys/acrsas',
                                 'https://myvault.vault.azure.net/secrets/',
                                 'https://myvault.vault.azure.net/secrets/a_b',
                                 'https://myvault.vault.azure.net/secrets/a/b/c',
                                 'myvault/secrets/acrsas'])
def test_bad_secret_uris_are_refused_with_an_example(uri):
    with pytest.raises(InvalidArgumentValueError, match='/secrets/<name>'):
        v.normalize_secret_uri(uri)


# ---- storage access mode ----

def test_a_secret_without_a_mode_means_sas_token():
    assert v.infer_storage_access_mode(None, 'https://kv.vault.azure.net/secrets/s') == 'SasToken'


def test_an_explicit_mode_is_kept():
    assert v.infer_storage_access_mode('ManagedIdentity', None) == 'ManagedIdentity'
    assert v.infer_storage_access_mode('SasToken', 'https://kv.vault.azure.net/secrets/s') == 'SasToken'


def test_neither_mode_nor_secret_says_what_to_add():
    with pytest.raises(RequiredArgumentMissingError, match='--storage-access-mode ManagedIdentity.*--secret-uri'):
        v.infer_storage_access_mode(None, None)


def test_managed_identity_with_a_secret_is_refused():
    with pytest.raises(MutuallyExclusiveArgumentError):
        v.infer_storage_access_mode('ManagedIdentity', 'https://kv.vault.azure.net/secrets/s')


def test_sas_token_without_a_secret_is_refused():
    with pytest.raises(RequiredArgumentMissingError, match='--secret-uri'):
        v.infer_storage_access_mode('SasToken', None)


# ---- options ----

def test_options_take_the_service_casing_and_drop_repeats():
    assert v.normalize_options(['overwriteblobs', 'ContinueOnErrors', 'OverwriteBlobs'],
                               v.EXPORT_OPTIONS, 'export') == ['OverwriteBlobs', 'ContinueOnErrors']
    assert v.normalize_options(None, v.IMPORT_OPTIONS, 'import') == []


@pytest.mark.parametrize('options, allowed, kind', [
    (['OverwriteTags'], v.EXPORT_OPTIONS, 'export'),
    (['DeleteSourceBlobOnSuccess'], v.EXPORT_OPTIONS, 'export'),
    (['OverwriteBlobs'], v.IMPORT_OPTIONS, 'import'),
    (['Bogus'], v.IMPORT_OPTIONS, 'import'),
])
def test_options_of_the_other_pipeline_kind_are_refused(options, allowed, kind):
    with pytest.raises(InvalidArgumentValueError, match='allowed values are ' + ', '.join(allowed)):
        v.normalize_options(options, allowed, kind)


# ---- identity ----

@pytest.mark.parametrize('value', [None, '[system]', '[SYSTEM]', ' [System] '])
def test_system_identity_in_any_case(value):
    assert v.normalize_assign_identity(value) is None


def test_user_identity_is_kept_exactly_as_given():
    lower_rg = UAI.replace('resourceGroups', 'resourcegroups')
    assert v.normalize_assign_identity(UAI) == UAI
    assert v.normalize_assign_identity(lower_rg) == lower_rg


@pytest.mark.parametrize('value', ['system', '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/vms/x',
                                   'id1'])
def test_other_identities_are_refused(value):
    with pytest.raises(InvalidArgumentValueError, match="'\\[system\\]' or the resource id"):
        v.normalize_assign_identity(value)


# ---- whole pipeline create ----

def test_pipeline_create_normalises_the_namespace():
    namespace = pipeline_namespace(secret_uri='https://KV1.vault.azure.net/secrets/Sas',
                                   storage_container_uri='https://Acct.blob.core.windows.net/Transfer',
                                   options=['continueonerrors'], assign_identity='[system]')
    v.validate_export_pipeline_create(namespace)
    assert namespace.storage_access_mode == 'SasToken'
    assert namespace.secret_uri == 'https://kv1.vault.azure.net/secrets/sas'
    assert namespace.storage_container_uri == 'https://acct.blob.core.windows.net/transfer'
    assert namespace.options == ['ContinueOnErrors']
    assert namespace.assign_identity is None


def test_import_pipeline_create_checks_import_options():
    with pytest.raises(InvalidArgumentValueError):
        v.validate_import_pipeline_create(pipeline_namespace(storage_access_mode='ManagedIdentity',
                                                             options=['OverwriteBlobs']))


# ---- artifacts, blob, top ----

@pytest.mark.parametrize('artifact, expected', [
    ('hello-world', 'hello-world:latest'),
    ('hello-world:latest', 'hello-world:latest'),
    ('hello-world@' + DIGEST, 'hello-world@' + DIGEST),
    ('library/hello-world:v1.0_rc-1', 'library/hello-world:v1.0_rc-1'),
    ('a/b/c__d.e', 'a/b/c__d.e:latest'),
    ('repo:tag@' + DIGEST, 'repo:tag@' + DIGEST),
    ('repo:' + 'T' * 128, 'repo:' + 'T' * 128),
])
def test_artifacts_follow_oci_reference_syntax(artifact, expected):
    assert v.normalize_artifact(artifact) == expected


@pytest.mark.parametrize('artifact', ['Hello-World:latest', 'hello-world:.tag', 'hello-world:-tag',
                                      'repo:' + 'T' * 129, 'hello-world@sha256:abc', 'hello-world@md5:' + 'a' * 64,
                                      'hello--world_:x', '/repo:tag', 'repo/:tag', 'repo:tag:more', ''])
def test_bad_artifacts_are_refused_with_an_example(artifact):
    with pytest.raises(InvalidArgumentValueError, match='e.g. hello-world:latest'):
        v.normalize_artifact(artifact)


def test_export_runs_need_1_to_50_artifacts():
    with pytest.raises(RequiredArgumentMissingError):
        v.validate_pipeline_run_create(run_namespace(artifacts=None))
    with pytest.raises(InvalidArgumentValueError, match='at most 50'):
        v.validate_pipeline_run_create(run_namespace(artifacts=['repo:t{}'.format(i) for i in range(51)]))
    namespace = run_namespace(artifacts=['repo:t{}'.format(i) for i in range(50)])
    v.validate_pipeline_run_create(namespace)
    assert len(namespace.artifacts) == 50


def test_import_runs_take_no_artifacts():
    with pytest.raises(ArgumentUsageError, match='export runs only'):
        v.validate_pipeline_run_create(run_namespace(pipeline_type='import'))
    namespace = run_namespace(pipeline_type='import', artifacts=None)
    v.validate_pipeline_run_create(namespace)
    assert namespace.artifacts == []


@pytest.mark.parametrize('blob', ['', '   ', None])
def test_storage_blob_must_not_be_empty(blob):
    with pytest.raises(InvalidArgumentValueError, match='--storage-blob'):
        v.validate_pipeline_run_create(run_namespace(storage_blob=blob))


@pytest.mark.parametrize('top', [0, -3])
def test_top_must_be_positive(top):
    with pytest.raises(InvalidArgumentValueError, match='positive integer'):
        v.validate_top(Namespace(registry_name='myregistry', top=top))
    v.validate_top(Namespace(registry_name='myregistry', top=1))
