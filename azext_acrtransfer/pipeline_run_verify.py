# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""az acr pipeline-run verify: did what was exported arrive? Read-only.

The expectations come from the export manifest (each requested reference with the digest it resolved to at export
time, and the referrers carried with it) or, with -n, from a run (its imported or requested artifacts, whose digest
is known only when they were named by digest). Each is looked up in this registry: Verified when the tag or digest
is there and points at the expected digest, Missing when it is not there, Mismatch when a tag points elsewhere or a
referrer is there but not found from its subject. Anything but Verified exits non-zero, after the list is printed.
"""

from dataclasses import dataclass
from typing import Optional

from ._product import split_reference
from ._referrers import is_found_from_subject

VERIFIED = 'Verified'
MISSING = 'Missing'
MISMATCH = 'Mismatch'
NOT_FROM_SUBJECT = '{} (not found from its subject {})'
NOTHING_TO_VERIFY = "Pipeline-run '{}' lists no artifacts (neither importedArtifacts nor request.artifacts)."


@dataclass(frozen=True)
class Expectation:
    artifact: str
    digest: Optional[str] = None        # None: only its existence is known
    referrer: Optional[dict] = None     # a carried referrer: {'reference', 'digest', 'scheme', 'subject'}


def expectations_from_manifest(manifest):
    """Every product, unchanged reference and carried referrer of the manifest; for a manifest written before
    digests were recorded, every artifact of its batches, by existence."""
    products = manifest.get('products')
    if products is None:
        return [Expectation(artifact) for artifact in _unique(
            artifact for batch in manifest.get('batches') or [] for artifact in batch.get('artifacts') or [])]
    expectations = []
    for product in list(products) + list(manifest.get('unchanged') or []):
        expectations.append(Expectation(product['reference'], product.get('digest')))
        expectations += [Expectation(referrer['reference'], referrer.get('digest'), referrer)
                         for referrer in product.get('referrers') or []]
    return expectations


def expectations_from_run(run):
    """A run's imported artifacts (or, before it imported anything, the ones it requested)."""
    properties = (run or {}).get('properties') or {}
    artifacts = ((properties.get('response') or {}).get('importedArtifacts')
                 or (properties.get('request') or {}).get('artifacts') or [])
    return [Expectation(artifact, split_reference(artifact)[1] if '@' in artifact else None)
            for artifact in _unique(artifacts)]


def _unique(values):
    return list(dict.fromkeys(values))


def verify_one(reader, expectation):
    """{artifact, status, expected, found} for one expectation, read from the target registry."""
    found = reader.manifest_digest(*split_reference(expectation.artifact))
    status = VERIFIED
    if found is None:
        status = MISSING
    elif expectation.digest is not None and found != expectation.digest:
        status = MISMATCH
    elif expectation.referrer is not None and not is_found_from_subject(reader, expectation.referrer):
        status, found = MISMATCH, NOT_FROM_SUBJECT.format(found, expectation.referrer.get('subject'))
    return {'artifact': expectation.artifact, 'status': status, 'expected': expectation.digest, 'found': found}


def verify_all(reader, expectations):
    return [verify_one(reader, expectation) for expectation in expectations]


def verify_pipeline_run(cmd, client, resource_group_name, registry_name, manifest_file=None, run_name=None):
    """Arguments arrive validated: exactly one of --manifest-file (already parsed) and --name."""
    from azure.cli.core.azclierror import InvalidArgumentValueError
    from ._product import registry_reader
    from ._existing import get_existing
    from ._validators import read_batch_manifest
    from .check import exit_non_zero_after_output
    if manifest_file:
        expectations = expectations_from_manifest(read_batch_manifest(manifest_file))
    else:
        expectations = expectations_from_run(get_existing(client.pipeline_runs, resource_group_name, registry_name,
                                                          run_name))
        if not expectations:
            raise InvalidArgumentValueError(NOTHING_TO_VERIFY.format(run_name))
    results = verify_all(registry_reader(cmd, resource_group_name, registry_name), expectations)
    if any(result['status'] != VERIFIED for result in results):
        exit_non_zero_after_output(cmd.cli_ctx)
    return results
