# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""What an export carries, as a product: each requested reference with the digest it resolved to at export time,
and (with --include-referrers) the referrers that travel with it; how products are packed into runs; which of them
changed since an earlier export (--since-manifest); and how the manifest records all of it.

Everything but `resolve` is pure. A product is never split over two runs: an image and its referrers arrive
together or not at all.
"""

import hashlib
import os
from dataclasses import dataclass
from typing import Optional, Tuple

from knack.log import get_logger

from . import _batch_plan as plan
from ._referrers import ReferrerLimitError, find_referrers

logger = get_logger(__name__)

# Not an error: with ContinueOnErrors the service skips a missing artifact by design, and without it the run fails
# on it and says so; the manifest records it without a digest (verify then checks only that it exists).
NOT_FOUND = ("Not found in registry '%s' now: %s. The manifest records no digest for it; its run fails on it unless "
             "the pipeline has ContinueOnErrors. Check with: az acr repository show-tags -n %s --repository <repo>")
TOO_BIG = ("'{reference}' and its referrers are {count} artifacts, more than the {limit} one run exports: export it "
           "without --include-referrers and carry the referrers with --artifacts.")
TOO_MANY_FOR_ONE_RUN = ("With their referrers the artifacts are {count}, more than the {limit} one run exports: use "
                        "`az acr pipeline-run create-batch --include-referrers`, which keeps each image with its "
                        "referrers in one of several runs.")
BAD_BASE = ("Invalid --since-manifest '{path}': {reason}. Give the manifest an earlier `az acr pipeline-run "
            "create-batch --manifest-file` export wrote.")


class ProductError(ValueError):
    """The references cannot be exported as asked; the message says why and what to do."""


@dataclass(frozen=True)
class Product:
    reference: str                  # as requested: repo:tag or repo@sha256:...
    digest: Optional[str]           # what it resolved to when the export was planned; None: not found then
    referrers: Tuple = ()           # _referrers.Referrer, breadth first

    @property
    def artifacts(self):
        return (self.reference,) + tuple(referrer.reference for referrer in self.referrers)

    def to_dict(self, batch_index=None):
        entry = {'reference': self.reference, 'digest': self.digest,
                 'referrers': [referrer.to_dict() for referrer in self.referrers]}
        if batch_index is not None:
            entry['batch'] = batch_index
        return entry


@dataclass(frozen=True)
class Selection:
    products: Tuple[Product, ...]               # what this export carries
    unchanged: Tuple[Product, ...] = ()         # --since-manifest: same digest as in the base, not exported
    include_referrers: bool = False
    base: Optional[dict] = None                 # --since-manifest: {'file', 'sha256'} of the base manifest


def split_reference(reference):
    """(repository, tag or digest) of a normalised reference (repositories never contain ':' or '@')."""
    if '@' in reference:
        repository, _, digest = reference.partition('@')
        return repository, digest
    repository, _, tag = reference.rpartition(':')
    return repository, tag


# ---- resolving (reads the registry) ----------------------------------------------------------------------------

def resolve_digests(reader, references, registry_name):
    """[(reference, digest or None)] in the given order; the references not found are named in one warning."""
    resolved = [(reference, reader.manifest_digest(*split_reference(reference))) for reference in references]
    missing = [reference for reference, digest in resolved if digest is None]
    if missing:
        logger.warning(NOT_FOUND, registry_name, ', '.join(missing), registry_name)
    return resolved


def with_referrers(reader, resolved, include_referrers):
    """Products of (reference, digest) pairs, each with its referrers when asked for."""
    products, found = [], {}   # found: the referrers of each (repository, digest), searched once for all its tags
    for reference, digest in resolved:
        key = (split_reference(reference)[0], digest)
        if include_referrers and digest is not None and key not in found:
            try:
                found[key] = tuple(find_referrers(reader, key[0], digest, reference))
            except ReferrerLimitError as error:
                raise ProductError(str(error)) from None
        products.append(Product(reference, digest, found.get(key, ())))
    return products


def select(reader, registry_name, references, include_referrers=False, base_manifest=None, base_info=None):
    """The selection of an export: digests resolved, the unchanged set aside against `base_manifest`, referrers
    found for what is exported (not for what is set aside: they are not read at all)."""
    resolved = resolve_digests(reader, references, registry_name)
    unchanged = []
    if base_manifest is not None:
        resolved, unchanged = changed_since(resolved, base_digests(base_manifest))
    products = with_referrers(reader, resolved, include_referrers)
    return Selection(tuple(products), tuple(Product(ref, digest) for ref, digest in unchanged), include_referrers,
                     base_info)


# ---- --since-manifest (pure) ------------------------------------------------------------------------------------

def base_digests(manifest):
    """{reference: digest} of what the earlier export carried successfully, or found unchanged (its own base's)."""
    succeeded = {entry['index'] for entry in manifest.get('batches') or [] if entry.get('status') == plan.SUCCEEDED}
    digests = {}
    for entry in manifest.get('products') or []:
        if isinstance(entry, dict) and entry.get('batch') in succeeded and isinstance(entry.get('digest'), str):
            digests[entry.get('reference')] = entry['digest']
    for entry in manifest.get('unchanged') or []:
        if isinstance(entry, dict) and isinstance(entry.get('digest'), str):
            digests.setdefault(entry.get('reference'), entry['digest'])
    return digests


def changed_since(resolved, digests):
    """(changed, unchanged) pairs: a reference is exported when the base lacks it or had another digest (or it was
    not found now: its run reports it)."""
    def same(ref, digest):
        return digest is not None and digests.get(ref) == digest
    return ([(ref, digest) for ref, digest in resolved if not same(ref, digest)],
            [(ref, digest) for ref, digest in resolved if same(ref, digest)])


def read_base_manifest(path):
    """(manifest, {'file', 'sha256'}) of --since-manifest, with a clear error when it cannot be one."""
    try:
        with open(path, 'rb') as handle:
            data = handle.read()
        manifest = plan.parse_manifest(data.decode('utf-8'))
    except (OSError, UnicodeDecodeError) as error:
        raise ProductError(BAD_BASE.format(path=path, reason=getattr(error, 'strerror', None) or error)) from None
    except plan.ManifestError as error:
        raise ProductError(BAD_BASE.format(path=path, reason=error)) from None
    if not manifest.get('products') and not manifest.get('unchanged'):
        raise ProductError(BAD_BASE.format(path=path, reason='it records no digests (it was written before 2.2.0): '
                                                             'export everything once to get a base'))
    return manifest, {'file': os.path.basename(path), 'sha256': hashlib.sha256(data).hexdigest()}


# ---- packing (pure) -------------------------------------------------------------------------------------------

def pack(products, size=plan.MAX_ARTIFACTS_PER_RUN):
    """Artifacts per run, in order: a product (an image and its referrers) is never split, a run is filled until
    the next product does not fit. An artifact already carried by an earlier product is not listed again."""
    runs, current, placed = [], [], set()
    for product in products:
        group = [artifact for artifact in plan.dedupe(product.artifacts) if artifact not in placed]
        if len(product.artifacts) > size:
            raise ProductError(TOO_BIG.format(reference=product.reference, count=len(product.artifacts), limit=size))
        if current and len(current) + len(group) > size:
            runs.append(tuple(current))
            current = []
        current += group
        placed.update(group)
    if current:
        runs.append(tuple(current))
    return runs


def plan_batches(name_prefix, blob_prefix, products):
    return [plan.Batch(index, plan.run_name_for(name_prefix, index), plan.blob_name_for(blob_prefix, index), chunk)
            for index, chunk in enumerate(pack(products), start=1)]


# ---- the manifest's product section (pure) --------------------------------------------------------------------

def manifest_section(selection, batches):
    """What the export manifest adds to its batches: each product's digest and referrers, and the run it is in."""
    batch_of = {}
    for batch in batches:
        for artifact in batch.artifacts:
            batch_of.setdefault(artifact, batch.index)
    section = {'includeReferrers': selection.include_referrers,
               'products': [product.to_dict(batch_of.get(product.reference)) for product in selection.products],
               'unchanged': [{'reference': product.reference, 'digest': product.digest}
                             for product in selection.unchanged]}
    if selection.base is not None:
        section['base'] = selection.base
    return section


# ---- the commands' entry points (read the registry) -------------------------------------------------------------

def registry_reader(cmd, resource_group_name, registry_name):
    """The source registry's data plane, at the login server ARM lists for it (its token goes nowhere else)."""
    from ._registry import RegistryDataClient, registry_login_server
    return RegistryDataClient(cmd.cli_ctx, registry_login_server(cmd, resource_group_name, registry_name))


def export_selection(cmd, resource_group_name, registry_name, references, include_referrers=False,
                     since_manifest=None):
    """The Selection of an export batch, errors as az errors before anything starts."""
    from azure.cli.core.azclierror import InvalidArgumentValueError
    try:
        base, base_info = read_base_manifest(since_manifest) if since_manifest else (None, None)
        reader = registry_reader(cmd, resource_group_name, registry_name)
        return select(reader, registry_name, references, include_referrers, base, base_info)
    except ProductError as error:
        raise InvalidArgumentValueError(str(error)) from None


def artifacts_with_referrers(cmd, resource_group_name, registry_name, references):
    """pipeline-run create --include-referrers: the references, each followed by its referrers, at most 50."""
    from azure.cli.core.azclierror import InvalidArgumentValueError
    selection = export_selection(cmd, resource_group_name, registry_name, references, include_referrers=True)
    artifacts = plan.dedupe(artifact for product in selection.products for artifact in product.artifacts)
    if len(artifacts) > plan.MAX_ARTIFACTS_PER_RUN:
        raise InvalidArgumentValueError(TOO_MANY_FOR_ONE_RUN.format(count=len(artifacts),
                                                                    limit=plan.MAX_ARTIFACTS_PER_RUN))
    return artifacts
