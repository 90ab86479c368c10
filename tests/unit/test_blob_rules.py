# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Source-trigger eligibility and the --storage-blob rules of `check`."""

from datetime import datetime, timedelta, timezone

from azext_acrtransfer._blob_rules import (BlobFacts, BlobPlace, export_blob_rule, import_blob_rule,
                                           trigger_eligibility)
from azext_acrtransfer._check_result import FAILED, PASSED, WARNING

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)
PLACE = BlobPlace('mystorage', 'transfer')
MD5 = b'\x01' * 16


def blob(metadata=None, md5=MD5, age_days=1):
    return BlobFacts('myblob', {'category': 'acr-transfer-blob'} if metadata is None else metadata, md5,
                     NOW - timedelta(days=age_days))


def test_a_transfer_blob_is_eligible():
    result = trigger_eligibility(blob(), NOW, PLACE)
    assert result.status == PASSED and result.name == 'SourceTriggerBlob myblob'


def test_metadata_key_casing_does_not_matter():
    assert trigger_eligibility(blob({'Category': 'acr-transfer-blob'}), NOW, PLACE).status == PASSED


def test_missing_or_wrong_category_fails_with_the_metadata_command():
    for metadata, shown in (({}, 'no category'), ({'category': 'other'}, 'category=other')):
        result = trigger_eligibility(blob(metadata), NOW, PLACE)
        assert result.status == FAILED and shown in result.detail
        assert result.fix == ('az storage blob metadata update --account-name mystorage --container-name transfer '
                              '--name myblob --metadata category=acr-transfer-blob')


def test_missing_md5_fails_with_a_command_that_sets_it():
    result = trigger_eligibility(blob(md5=None), NOW, PLACE)
    assert result.status == FAILED and 'Content-MD5' in result.detail
    assert result.fix == ('az storage blob download --account-name mystorage --container-name transfer --name myblob '
                          '--file acrtransfer-md5.download --no-progress --output none && az storage blob update '
                          '--account-name mystorage --container-name transfer --name myblob --content-md5 '
                          '"$(openssl dgst -md5 -binary acrtransfer-md5.download | base64)" --output none && rm '
                          'acrtransfer-md5.download')


def test_age_limit_is_sixty_days():
    assert trigger_eligibility(blob(age_days=59.9), NOW, PLACE).status == PASSED
    old = trigger_eligibility(blob(age_days=61), NOW, PLACE)
    assert old.status == WARNING and '60 days' in old.detail and 'metadata update' in old.fix


def test_export_blob_must_not_exist_without_overwrite():
    assert export_blob_rule('b', None, [], 'fix').status == PASSED
    assert export_blob_rule('b', blob(), ['OverwriteBlobs'], 'fix').status == PASSED
    result = export_blob_rule('b', blob(), ['ContinueOnErrors'], 'fix')
    assert result.status == FAILED and 'OverwriteBlobs' in result.detail and result.fix == 'fix'


def test_import_blob_must_exist_with_md5():
    assert import_blob_rule('myblob', blob(), PLACE).status == PASSED
    assert import_blob_rule('myblob', None, PLACE).status == FAILED
    result = import_blob_rule('myblob', blob(md5=None), PLACE)
    assert result.status == FAILED and '--content-md5' in result.fix
