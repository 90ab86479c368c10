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
        v.validate_pipeline_run_list(Namespace(registry_name='myregistry', top=top, pipeline_name=None))
    v.validate_pipeline_run_list(Namespace(registry_name='myregistry', top=1, pipeline_name=None))


def test_list_pipeline_filter_is_a_pipeline_name():
    with pytest.raises(InvalidArgumentValueError, match='--pipeline'):
        v.validate_pipeline_run_list(Namespace(registry_name='myregistry', top=None, pipeline_name='my-pipe'))


def _wait(**given):
    values = dict(registry_name='myregistry', run_name=None, pipeline_name=None, storage_blob=None, timeout=None)
    values.update(given)
    return Namespace(**values)


@pytest.mark.parametrize('given,error', [
    ({}, RequiredArgumentMissingError),
    ({'pipeline_name': 'import1'}, RequiredArgumentMissingError),
    ({'storage_blob': 'b.tar'}, RequiredArgumentMissingError),
    ({'run_name': 'myrun01', 'pipeline_name': 'import1', 'storage_blob': 'b.tar'}, MutuallyExclusiveArgumentError),
    ({'run_name': 'my run'}, InvalidArgumentValueError),
    ({'run_name': 'myrun01', 'timeout': 0}, InvalidArgumentValueError),
])
def test_wait_needs_a_run_name_or_a_pipeline_and_blob(given, error):
    with pytest.raises(error):
        v.validate_pipeline_run_wait(_wait(**given))


def test_wait_accepts_a_triggered_run_name_or_a_pipeline_and_blob():
    v.validate_pipeline_run_wait(_wait(run_name='import1_0123abc'))
    v.validate_pipeline_run_wait(_wait(pipeline_name='import1', storage_blob='b.tar', timeout=60))


# ---- rules that cannot be bypassed ----

@pytest.mark.parametrize('check, namespace', [
    (v.validate_registry_name, Namespace(registry_name='myregistry\n')),
    (v.validate_existing_pipeline, Namespace(registry_name='myregistry', pipeline_name='mypipeline\n')),
    (v.validate_existing_run, Namespace(registry_name='myregistry', run_name='myrun01\n')),
])
def test_a_trailing_newline_never_passes_a_name_rule(check, namespace):
    with pytest.raises(InvalidArgumentValueError):
        check(namespace)


@pytest.mark.parametrize('pattern, value', [
    (v.NAME_RE, 'myregistry\n'), (v.EXISTING_RUN_NAME_RE, 'run_1\n'), (v.ACCOUNT_NAME_RE, 'acct\n'),
    (v.CONTAINER_NAME_RE, 'transfer\n'), (v.SECRET_PATH_RE, '/secrets/sas\n'), (v.ARTIFACT_RE, 'hello:1\n'),
    (v.RESOURCE_GROUP_RE, 'rg1\n'), (v.USER_IDENTITY_RE, UAI + '\n'),
])
def test_every_pattern_matches_the_whole_string(pattern, value):
    assert pattern.fullmatch(value.rstrip('\n'))
    assert not pattern.fullmatch(value)


@pytest.mark.parametrize('field, value', [
    ('resource_group_name', 'rg1\t'), ('registry_name', 'my\x00registry'), ('pipeline_name', 'my\rpipeline'),
    ('secret_uri', 'https://kv.vault.azure.net/sec\nrets/sas'),
    ('secret_uri', 'https://kv.vault.azure.net/secrets/s\x7f'),
    ('storage_container_uri', 'https://a.blob.core.windows.net/trans\tfer'), ('options', ['OverwriteBlobs\x1b']),
    ('assign_identity', UAI + '\u202e'), ('storage_container_uri', 'https://a.blob.core.windows.net/\u200btransfer'),
])
def test_control_and_invisible_characters_are_refused_in_every_argument(field, value):
    namespace = pipeline_namespace(secret_uri='https://kv.vault.azure.net/secrets/sas', resource_group_name='rg1')
    setattr(namespace, field, value)
    with pytest.raises(InvalidArgumentValueError, match='control character'):
        v.validate_export_pipeline_create(namespace)


def test_control_characters_are_refused_in_run_arguments_too():
    with pytest.raises(InvalidArgumentValueError, match=r'--storage-blob: it contains a control character \(U\+000A'):
        v.validate_pipeline_run_create(run_namespace(storage_blob='blob\n'))
    with pytest.raises(InvalidArgumentValueError, match='--artifacts'):
        v.validate_pipeline_run_create(run_namespace(artifacts=['hello:1', 'hello:2\x00']))


@pytest.mark.parametrize('group', ['rg1', 'My_Resource-Group.(1)', 'x' * 90, 'grupé', '(rg)', '-rg-'])
def test_resource_groups_by_arms_rule_are_accepted(group):
    v.validate_registry_name(Namespace(resource_group_name=group, registry_name='myregistry'))


@pytest.mark.parametrize('group', ['', 'rg1.', 'x' * 91, 'rg1/../../../rg2', 'rg1?x=1', 'rg 1', 'rg#1', 'rg%2F1',
                                   'rg1\\x', "rg'1"])
def test_other_resource_groups_are_refused_with_the_rule(group):
    with pytest.raises(InvalidArgumentValueError, match="Invalid --resource-group.*1-90 letters"):
        v.validate_registry_name(Namespace(resource_group_name=group, registry_name='myregistry'))


@pytest.mark.parametrize('blob', ['b', 'dir/sub/blob.tar', 'x' * 1024, '/'.join(['d'] * 254), 'a..b', '.hidden',
                                  'my export (1).tar'])
def test_blob_names_by_azures_rules_are_accepted(blob):
    v.validate_pipeline_run_create(run_namespace(storage_blob=blob))


@pytest.mark.parametrize('blob', ['..', '.', '../other/blob', 'dir/../blob', 'dir/./blob', 'x' * 1025, 'blob.',
                                  'dir/', 'blob/.', '/'.join(['d'] * 255)])
def test_other_blob_names_are_refused_with_the_rule(blob):
    with pytest.raises(InvalidArgumentValueError, match="no '.' or '..' segment"):
        v.validate_pipeline_run_create(run_namespace(storage_blob=blob))


@pytest.mark.parametrize('uri', [
    'https://user:pw@mystorage.blob.core.windows.net/transfer',   # userinfo
    'https://user@mystorage.blob.core.windows.net/transfer',
    'https://mystorage.blob.core.windows.net:99999/transfer',     # port out of range
    'https://mystorage.blob.core.windows.net:0/transfer',
    'https://mystorage.blob.core.windows.net:abc/transfer',
    'https://mystorage.blob.core.windows.net:/transfer',
    'https://my_storage.blob.core.windows.net/transfer',          # invalid host
    'https://-storage.blob.core.windows.net/transfer',
    'https://mystorage..blob.core.windows.net/transfer',
    'https://127.0.0.1:10000/account',                            # IP host: account and container both needed
    'https://localhost:10000/account',
    'https://[::1]:10000/account',
])
def test_container_uris_with_userinfo_bad_authority_or_missing_container_are_refused(uri):
    with pytest.raises(InvalidArgumentValueError) as error:
        v.normalize_storage_container_uri(uri)
    assert 'pw@' not in str(error.value) and 'user@' not in str(error.value)


def test_container_uris_with_an_ip_v6_host_or_a_port_are_accepted():
    assert v.normalize_storage_container_uri('https://[::1]:10000/account/transfer') == \
        'https://[::1]:10000/account/transfer'
    assert v.normalize_storage_container_uri('https://mystorage.blob.core.windows.net:443/transfer') == \
        'https://mystorage.blob.core.windows.net:443/transfer'


@pytest.mark.parametrize('uri', ['https://u:p@kv.vault.azure.net/secrets/sas',
                                 'https://kv.vault.azure.net:99999/secrets/s',
                                 'https://kv_1.vault.azure.net/secrets/sas'])
def test_secret_uris_with_userinfo_or_bad_authority_are_refused(uri):
    with pytest.raises(InvalidArgumentValueError, match='/secrets/<name>'):
        v.normalize_secret_uri(uri)


@pytest.mark.parametrize('value', [
    UAI + '?api-version=1', UAI + '#x', UAI.replace('/resourceGroups/rg/', '/resourceGroups/../'),
    UAI.replace('/resourceGroups/rg/', '/resourceGroups/rg/../rg/'), UAI.replace('/id1', '/..'),
    UAI.replace('/id1', '/id1/..'), UAI.replace('00000000-0000-0000-0000-000000000000', 'sub1'),
    UAI.replace('/resourceGroups/rg/', '/resourceGroups/rg./'),
])
def test_identity_ids_with_query_fragment_or_dot_segments_are_refused(value):
    with pytest.raises(InvalidArgumentValueError, match="no query, fragment or '..'") as error:
        v.normalize_assign_identity(value)
    assert 'api-version' not in str(error.value)


@pytest.mark.parametrize('normalize, value', [
    (v.normalize_secret_uri, 'https://kv.vault.azure.net/secrets/sas\n'),
    (v.normalize_secret_uri, 'https://kv.vault.azure.net/sec\trets/sas'),
    (v.normalize_storage_container_uri, 'https://a.blob.core.windows.net/trans\rfer'),
    (v.normalize_assign_identity, UAI + '\n'),
])
def test_uri_rules_refuse_control_characters_themselves(normalize, value):
    """urlsplit drops tabs and newlines before the check; the raw value would be sent."""
    with pytest.raises(InvalidArgumentValueError, match='control character'):
        normalize(value)
