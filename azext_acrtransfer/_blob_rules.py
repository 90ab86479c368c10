# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""What a blob must look like: to start a source-triggered import, to be imported, or to be exported over."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

from ._check_result import failed, passed, warning

TRANSFER_BLOB_CATEGORY = 'acr-transfer-blob'
TRIGGER_MAX_AGE_DAYS = 60

NAME_TRIGGER_BLOB = 'SourceTriggerBlob'
NAME_STORAGE_BLOB = 'StorageBlob'


@dataclass(frozen=True)
class BlobFacts:
    """What storage says about one blob, in SDK-neutral terms."""
    name: str
    metadata: dict
    content_md5: Optional[bytes]
    last_modified: Optional[datetime]


@dataclass(frozen=True)
class BlobPlace:
    """Where a blob lives, for the fix commands."""
    account: str
    container: str

    def args(self, blob):
        return '--account-name {} --container-name {} --name {}'.format(self.account, self.container, blob)


def metadata_fix(place, blob):
    # Setting metadata also sets Last-Modified to now, so this one command fixes the category and the age.
    return 'az storage blob metadata update {} --metadata category={}'.format(place.args(blob), TRANSFER_BLOB_CATEGORY)


def md5_fix(place, blob):
    # Via a file: a download to a pipe is refused, and && keeps a failed download from setting a wrong MD5.
    local = 'acrtransfer-md5.download'
    return ('az storage blob download {args} --file {local} --no-progress --output none && az storage blob update '
            '{args} --content-md5 "$(openssl dgst -md5 -binary {local} | base64)" --output none && rm {local}').format(
                args=place.args(blob), local=local)


def _category(metadata):
    return {key.lower(): value for key, value in (metadata or {}).items()}.get('category')


def trigger_eligibility(blob, now, place):
    """The source trigger starts an import only for a blob with category=acr-transfer-blob metadata, a
    Content-MD5 and a Last-Modified within 60 days. Missing metadata or MD5 mean it is never imported (Failed);
    an old blob has most likely been imported already (Warning), and refreshing it imports it again."""
    name = '{} {}'.format(NAME_TRIGGER_BLOB, blob.name)
    category = _category(blob.metadata)
    if category != TRANSFER_BLOB_CATEGORY:
        shown = "category={}".format(category) if category is not None else 'no category'
        return failed(name, "The source trigger ignores it: its metadata has {}, not category={} (some copy tools "
                            "drop metadata).".format(shown, TRANSFER_BLOB_CATEGORY), metadata_fix(place, blob.name))
    if not blob.content_md5:
        return failed(name, 'The source trigger ignores it: it has no Content-MD5.', md5_fix(place, blob.name))
    if blob.last_modified is None or now - blob.last_modified > timedelta(days=TRIGGER_MAX_AGE_DAYS):
        when = blob.last_modified.strftime('%Y-%m-%dT%H:%MZ') if blob.last_modified else 'unknown'
        return warning(name, 'The source trigger ignores it: Last-Modified {} is more than {} days ago.'.format(
            when, TRIGGER_MAX_AGE_DAYS), metadata_fix(place, blob.name))
    return passed(name, 'Eligible: category={}, Content-MD5 set, modified within {} days.'.format(
        TRANSFER_BLOB_CATEGORY, TRIGGER_MAX_AGE_DAYS))


def export_blob_rule(blob_name, existing, options, overwrite_fix):
    """An export fails on an existing blob unless the pipeline has OverwriteBlobs."""
    if existing is None:
        return passed(NAME_STORAGE_BLOB, "'{}' does not exist yet: the export writes it.".format(blob_name))
    if 'OverwriteBlobs' in (options or []):
        return passed(NAME_STORAGE_BLOB, "'{}' exists and the pipeline has OverwriteBlobs: the export replaces "
                                         "it.".format(blob_name))
    return failed(NAME_STORAGE_BLOB, "'{}' exists already and the pipeline has no OverwriteBlobs: the export would "
                                     "fail. Pick another blob name, or recreate the pipeline with --options "
                                     "OverwriteBlobs.".format(blob_name), overwrite_fix)


def import_blob_rule(blob_name, existing, place):
    """An import needs the blob, with the Content-MD5 it verifies the content against."""
    if existing is None:
        return failed(NAME_STORAGE_BLOB, "'{}' does not exist in container '{}': copy it there first.".format(
            blob_name, place.container), 'az storage blob list --account-name {} --container-name {} --query '
                                         '"[].name" --output tsv'.format(place.account, place.container))
    if not existing.content_md5:
        return failed(NAME_STORAGE_BLOB, "'{}' has no Content-MD5: the import cannot verify it.".format(blob_name),
                      md5_fix(place, blob_name))
    return passed(NAME_STORAGE_BLOB, "'{}' exists with a Content-MD5.".format(blob_name))
