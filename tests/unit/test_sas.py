# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""SAS parsing and every rule `check` applies to a pipeline's token."""

from datetime import datetime, timedelta, timezone

import pytest

from azext_acrtransfer import _sas
from azext_acrtransfer._check_result import FAILED, PASSED, SKIPPED, WARNING

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
SIGNATURE = 'c2VjcmV0c2lnbmF0dXJlMTIzNDU2Nzg5MA%3D'
ACCOUNT_SAS = ('sv=2021-06-08&ss=b&srt=sco&sp=rwdlac&se=2027-06-01T00:00:00Z&st=2026-05-01T00:00Z&spr=https'
               '&sig=' + SIGNATURE)
CONTAINER_SAS = 'se=2027-01-01T00%3A00Z&sp=rl&spr=https&sv=2021-06-08&sr=c&sig=' + SIGNATURE
FIX = 'az keyvault secret set ...'


def token(**changes):
    fields = dict(_sas.parse_sas(ACCOUNT_SAS).fields)
    for key, value in changes.items():
        if value is None:
            fields.pop(key, None)
        else:
            fields[key] = value
    return _sas.SasToken(fields)


def statuses(results):
    return {r.name: r.status for r in results}


def test_parse_account_sas_fields_and_times():
    sas = _sas.parse_sas(ACCOUNT_SAS)
    assert sas.is_account_sas
    assert sas.get('srt') == 'sco' and sas.permissions == 'rwdlac'
    assert sas.expiry == datetime(2027, 6, 1, tzinfo=timezone.utc)
    assert sas.start == datetime(2026, 5, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize('value', ['?' + CONTAINER_SAS, 'https://acct.blob.core.windows.net/c?' + CONTAINER_SAS,
                                   '  ' + CONTAINER_SAS + '\n'])
def test_parse_accepts_leading_question_mark_and_urls(value):
    sas = _sas.parse_sas(value)
    assert not sas.is_account_sas and sas.get('sr') == 'c'
    assert sas.expiry == datetime(2027, 1, 1, tzinfo=timezone.utc)  # URL-encoded time


def test_parse_date_only_expiry():
    assert _sas.parse_sas('sv=x&se=2030-01-31&sig=abc').expiry == datetime(2030, 1, 31, tzinfo=timezone.utc)


@pytest.mark.parametrize('value, fragment', [
    ('', 'empty'),
    ('sv=2021-06-08&sp=r', 'no signature'),
    ('sig=abc&sp=r', 'no signed version'),
    ('sv=1&sig=abc&sig=def', 'twice'),
    ('sv=1&se=tomorrow&sig=abc', 'not a UTC time'),
])
def test_parse_errors_say_why_without_the_value(value, fragment):
    with pytest.raises(_sas.SasFormatError) as error:
        _sas.parse_sas(value)
    assert fragment in str(error.value)
    assert 'abc' not in str(error.value) and 'def' not in str(error.value)


def test_good_account_sas_passes_every_rule_for_both_kinds():
    for kind, options in (('export', []), ('import', ['DeleteSourceBlobOnSuccess'])):
        results = _sas.sas_rules(_sas.parse_sas(ACCOUNT_SAS), kind, options, NOW, FIX)
        assert set(statuses(results).values()) == {PASSED}, results


def test_expiry_rules():
    assert _sas.check_expiry(token(se='2026-05-31T00:00Z'), NOW, FIX).status == FAILED
    assert _sas.check_expiry(token(se='2026-06-01T12:00Z'), NOW, FIX).status == FAILED
    soon = _sas.check_expiry(token(se='2026-06-07T00:00Z'), NOW, FIX)
    assert soon.status == WARNING and '5.5 days' in soon.detail and soon.fix == FIX
    assert _sas.check_expiry(token(se='2026-06-08T12:01Z'), NOW, FIX).status == PASSED
    missing = _sas.check_expiry(token(se=None), NOW, FIX)
    assert missing.status == FAILED and 'no expiry' in missing.detail
    policy = _sas.check_expiry(token(se=None, si='mypolicy'), NOW, FIX)
    assert policy.status == SKIPPED and 'mypolicy' in policy.detail


def test_start_rules():
    assert _sas.check_start(token(st='2026-06-02T00:00Z'), NOW, FIX).status == FAILED
    assert _sas.check_start(token(st=None), NOW, FIX).status == PASSED
    assert _sas.check_start(token(st='2026-06-01T11:59Z'), NOW, FIX).status == PASSED


@pytest.mark.parametrize('spr, status', [('https', PASSED), ('https,http', FAILED), (None, FAILED)])
def test_protocol_rule(spr, status):
    assert _sas.check_protocol(token(spr=spr), FIX).status == status


@pytest.mark.parametrize('ss, status', [('b', PASSED), ('bfqt', PASSED), ('fq', FAILED), ('', FAILED)])
def test_account_sas_must_cover_blob_service(ss, status):
    assert _sas.check_service(token(ss=ss), FIX).status == status


def test_service_sas_kinds():
    container = _sas.parse_sas(CONTAINER_SAS)
    assert _sas.check_service(container, FIX).status == PASSED
    blob = _sas.SasToken(dict(container.fields, sr='b'))
    assert _sas.check_service(blob, FIX).status == FAILED
    assert _sas.check_resource_types(blob, FIX).status == SKIPPED


@pytest.mark.parametrize('srt, status', [('sco', PASSED), ('ocs', PASSED), ('co', FAILED), ('o', FAILED)])
def test_account_sas_resource_types(srt, status):
    result = _sas.check_resource_types(token(srt=srt), FIX)
    assert result.status == status
    if status == FAILED:
        assert 'srt=sco' in result.detail


def test_container_sas_is_a_warning_with_the_reason():
    result = _sas.check_resource_types(_sas.parse_sas(CONTAINER_SAS), FIX)
    assert result.status == WARNING and 'account SAS' in result.detail and result.fix == FIX


@pytest.mark.parametrize('kind, options, sp, status, missing', [
    ('export', [], 'alrw', PASSED, ''),
    ('export', [], 'rwl', FAILED, 'a'),
    ('export', [], 'rl', FAILED, 'wa'),
    ('import', [], 'rl', PASSED, ''),
    ('import', [], 'r', FAILED, 'l'),
    ('import', ['DeleteSourceBlobOnSuccess'], 'rl', FAILED, 'd'),
    ('import', ['DeleteSourceBlobOnSuccess'], 'rdl', PASSED, ''),
])
def test_permissions_per_kind_and_options(kind, options, sp, status, missing):
    result = _sas.check_permissions(token(sp=sp), kind, options, FIX)
    assert result.status == status
    if missing:
        assert 'missing {}'.format(missing) in result.detail


def test_required_permissions_in_storage_order():
    assert _sas.required_permissions('export', ['OverwriteBlobs']) == 'rwla'
    assert _sas.required_permissions('import', []) == 'rl'
    assert _sas.required_permissions('import', ['DeleteSourceBlobOnSuccess']) == 'rdl'


def test_fix_command_stores_a_fresh_account_sas():
    command = _sas.new_token_command('mystorage', 'rwla', NOW, 'myvault', 'mysecret')
    assert command == ('(umask 077 && az storage account generate-sas --account-name mystorage --services b '
                       '--resource-types sco --permissions rwla --expiry 2026-07-01T12:00Z --https-only --output tsv '
                       '> acrtransfer-sas.txt) && az keyvault secret set --vault-name myvault --name mysecret '
                       '--value @acrtransfer-sas.txt --output none; rm -f acrtransfer-sas.txt')


def test_the_fix_never_puts_the_token_on_azs_command_line():
    """az logs its argv with --debug: the token reaches az keyvault secret set through @file only."""
    command = _sas.new_token_command('mystorage', 'rl', NOW, 'myvault', 'mysecret')
    assert '$(' not in command and '--value @' in command


@pytest.mark.parametrize('field, value', [
    ('se', '2030-13-01'), ('se', '2030-02-30T00:00Z'), ('st', '2026-01-01T25:00Z')])
def test_an_impossible_date_is_a_format_error_not_a_traceback(field, value):
    with pytest.raises(_sas.SasFormatError) as error:
        _sas.parse_sas(ACCOUNT_SAS.replace('se=2027-06-01T00:00:00Z', '') + '&{}={}'.format(field, value)
                       if field == 'se' else ACCOUNT_SAS.replace('st=2026-05-01T00:00Z', '{}={}'.format(field, value)))
    assert value in str(error.value) and SIGNATURE not in str(error.value)


def test_no_rule_repeats_the_signature():
    for sas in (_sas.parse_sas(ACCOUNT_SAS), token(se='2020-01-01', spr=None, srt='o', sp='r', ss='f')):
        for result in _sas.sas_rules(sas, 'export', [], NOW + timedelta(days=1), FIX):
            assert 'sig' not in result.detail and SIGNATURE not in result.detail
