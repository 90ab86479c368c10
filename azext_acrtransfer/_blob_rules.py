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

# Messages and fix commands, formatted where a rule reports them.
WRONG_CATEGORY = "The source trigger ignores it: its metadata has {}, not category={} (some copy tools drop metadata)."
NO_MD5 = 'The source trigger ignores it: it has no Content-MD5.'
TOO_OLD = 'The source trigger ignores it: Last-Modified {} is more than {} days ago.'
ELIGIBLE = 'Eligible: category={}, Content-MD5 set, modified within {} days.'
EXPORT_WRITES = "'{}' does not exist yet: the export writes it."
EXPORT_REPLACES = "'{}' exists and the pipeline has OverwriteBlobs: the export replaces it."
EXPORT_WOULD_FAIL = ("'{}' exists already and the pipeline has no OverwriteBlobs: the export would fail. Pick another "
                     "blob name, or recreate the pipeline with --options OverwriteBlobs.")
IMPORT_BLOB_MISSING = "'{}' does not exist in container '{}': copy it there first."
IMPORT_BLOB_WITHOUT_MD5 = "'{}' has no Content-MD5: the import cannot verify it."
IMPORT_BLOB_READY = "'{}' exists with a Content-MD5."
BLOB_ARGS = '--account-name {} --container-name {} --name {}'
METADATA_FIX = 'az storage blob metadata update {} --metadata category={}'
# Via a file: a download to a pipe is refused, and && keeps a failed download from setting a wrong MD5.
MD5_FIX = ('az storage blob download {args} --file {local} --no-progress --output none && az storage blob update '
           '{args} --content-md5 "$(openssl dgst -md5 -binary {local} | base64)" --output none && rm {local}')
LIST_BLOBS_COMMAND = 'az storage blob list --account-name {} --container-name {} --query "[].name" --output tsv'


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
        return BLOB_ARGS.format(self.account, self.container, blob)


def metadata_fix(place, blob):
    # Setting metadata also sets Last-Modified to now, so this one command fixes the category and the age.
    return METADATA_FIX.format(place.args(blob), TRANSFER_BLOB_CATEGORY)


def md5_fix(place, blob):
    return MD5_FIX.format(args=place.args(blob), local='acrtransfer-md5.download')


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
        return failed(name, WRONG_CATEGORY.format(shown, TRANSFER_BLOB_CATEGORY), metadata_fix(place, blob.name))
    if not blob.content_md5:
        return failed(name, NO_MD5, md5_fix(place, blob.name))
    if blob.last_modified is None or now - blob.last_modified > timedelta(days=TRIGGER_MAX_AGE_DAYS):
        when = blob.last_modified.strftime('%Y-%m-%dT%H:%MZ') if blob.last_modified else 'unknown'
        return warning(name, TOO_OLD.format(when, TRIGGER_MAX_AGE_DAYS), metadata_fix(place, blob.name))
    return passed(name, ELIGIBLE.format(TRANSFER_BLOB_CATEGORY, TRIGGER_MAX_AGE_DAYS))


def export_blob_rule(blob_name, existing, options, overwrite_fix):
    """An export fails on an existing blob unless the pipeline has OverwriteBlobs."""
    if existing is None:
        return passed(NAME_STORAGE_BLOB, EXPORT_WRITES.format(blob_name))
    if 'OverwriteBlobs' in (options or []):
        return passed(NAME_STORAGE_BLOB, EXPORT_REPLACES.format(blob_name))
    return failed(NAME_STORAGE_BLOB, EXPORT_WOULD_FAIL.format(blob_name), overwrite_fix)


def import_blob_rule(blob_name, existing, place):
    """An import needs the blob, with the Content-MD5 it verifies the content against."""
    if existing is None:
        return failed(NAME_STORAGE_BLOB, IMPORT_BLOB_MISSING.format(blob_name, place.container),
                      LIST_BLOBS_COMMAND.format(place.account, place.container))
    if not existing.content_md5:
        return failed(NAME_STORAGE_BLOB, IMPORT_BLOB_WITHOUT_MD5.format(blob_name), md5_fix(place, blob_name))
    return passed(NAME_STORAGE_BLOB, IMPORT_BLOB_READY.format(blob_name))
