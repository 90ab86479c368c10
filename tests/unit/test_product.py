# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Products: resolving references to digests, packing an image with its referrers into runs, the --since-manifest
selection, and what the manifest records."""

import json

import pytest

from fake_registry import FakeRegistry

from azext_acrtransfer import _product
from azext_acrtransfer._batch_plan import MANIFEST_FORMAT
from azext_acrtransfer._product import Product, ProductError, pack, select

SIGNATURE = 'application/vnd.cncf.notary.signature'
SBOM = 'application/spdx+json'


def signed_registry():
    registry = FakeRegistry()
    image = registry.push_image('app', 'v1')
    registry.push_referrer('app', image, SIGNATURE)
    registry.push_cosign('app', image)
    registry.push_image('app', 'v2', 'v2')
    registry.push_image('base', 'latest', 'base')
    return registry


def test_each_reference_resolves_to_its_digest_and_the_missing_are_recorded_without_one():
    registry = signed_registry()
    selection = select(registry, 'myregistry', ['app:v1', 'base:latest'])
    assert [(p.reference, p.digest) for p in selection.products] == [
        ('app:v1', registry.tags[('app', 'v1')]), ('base:latest', registry.tags[('base', 'latest')])]
    assert all(p.referrers == () for p in selection.products)   # not asked for: not looked for
    assert not any(call[0] == 'REFERRERS' for call in registry.calls)
    # Not an error: with ContinueOnErrors the service skips them by design; the warning names them.
    selection = select(registry, 'myregistry', ['app:v9', 'app:v1', 'nope:1'], include_referrers=True)
    assert [(p.reference, p.digest, len(p.referrers)) for p in selection.products] == [
        ('app:v9', None, 0), ('app:v1', registry.tags[('app', 'v1')], 2), ('nope:1', None, 0)]


def test_with_referrers_a_product_lists_its_image_then_its_referrers():
    registry = signed_registry()
    product, = select(registry, 'myregistry', ['app:v1'], include_referrers=True).products
    image_tag = registry.tags[('app', 'v1')].replace(':', '-')
    assert product.artifacts[0] == 'app:v1' and len(product.artifacts) == 3
    assert product.artifacts[1].startswith('app@sha256:') and product.artifacts[2] == 'app:{}.sig'.format(image_tag)


def product(name, referrers=0):
    class Ref:  # pylint: disable=too-few-public-methods
        def __init__(self, number):
            self.reference = '{}@sha256:{}'.format(name.split(':')[0], str(number) * 64)
    return Product(name, 'sha256:' + 'f' * 64, tuple(Ref(n) for n in range(referrers)))


def test_packing_never_splits_an_image_from_its_referrers():
    runs = pack([product('a:1', 2), product('b:1', 5), product('c:1')], size=8)
    assert [len(run) for run in runs] == [3, 7]
    assert runs[1][0] == 'b:1' and runs[1][-1] == 'c:1'
    many = pack([product('x:{}'.format(n)) for n in range(120)])
    assert [len(run) for run in many] == [50, 50, 20]
    assert sum(many, ()) == tuple('x:{}'.format(n) for n in range(120))


def test_a_product_bigger_than_a_run_is_refused_and_shared_referrers_go_once():
    with pytest.raises(ProductError, match="'big:1' and its referrers are 9 artifacts, more than the 8"):
        pack([product('big:1', 8)], size=8)
    twin = Product('a:latest', 'sha256:' + 'f' * 64, product('a:1', 2).referrers)
    assert pack([product('a:1', 2), twin]) == [('a:1', 'a@sha256:' + '0' * 64, 'a@sha256:' + '1' * 64, 'a:latest')]


def base_manifest(products, statuses=('Succeeded',), unchanged=()):
    return {'format': MANIFEST_FORMAT, 'pipeline': 'exp', 'pipelineType': 'export', 'registry': 'r',
            'batches': [{'index': n, 'blob': 'b-{}'.format(n), 'status': s} for n, s in enumerate(statuses, 1)],
            'products': products, 'unchanged': list(unchanged)}


def test_since_a_manifest_only_changed_or_new_references_are_exported_with_their_referrers():
    registry = signed_registry()
    old = base_manifest([{'reference': 'app:v1', 'digest': 'sha256:' + '0' * 64, 'batch': 1},
                         {'reference': 'app:v2', 'digest': registry.tags[('app', 'v2')], 'batch': 1}])
    selection = select(registry, 'myregistry', ['app:v1', 'app:v2', 'base:latest'], True, old, {'file': 'm.json'})
    assert [p.reference for p in selection.products] == ['app:v1', 'base:latest']
    assert len(selection.products[0].referrers) == 2
    assert [p.reference for p in selection.unchanged] == ['app:v2']
    assert not any(call[1:] == ('app', registry.tags[('app', 'v2')]) and call[0] == 'REFERRERS'
                   for call in registry.calls)   # the unchanged are not searched


def test_a_reference_of_a_failed_batch_is_exported_again_and_the_bases_unchanged_count():
    digest = 'sha256:' + 'e' * 64
    old = base_manifest([{'reference': 'a:1', 'digest': digest, 'batch': 1},
                         {'reference': 'b:1', 'digest': digest, 'batch': 2}], ('Succeeded', 'Failed'),
                        [{'reference': 'c:1', 'digest': digest}])
    assert _product.base_digests(old) == {'a:1': digest, 'c:1': digest}
    changed, unchanged = _product.changed_since([('a:1', digest), ('b:1', digest), ('c:1', 'sha256:new'),
                                                 ('gone:1', None)], _product.base_digests(old))
    assert changed == [('b:1', digest), ('c:1', 'sha256:new'), ('gone:1', None)] and unchanged == [('a:1', digest)]


def test_a_base_manifest_must_be_an_export_manifest_with_digests(tmp_path):
    path = tmp_path / 'old.json'
    path.write_text(json.dumps(base_manifest([])))
    with pytest.raises(ProductError, match="Invalid --since-manifest .*records no digests"):
        _product.read_base_manifest(str(path))
    path.write_text('not json')
    with pytest.raises(ProductError, match='it is not JSON'):
        _product.read_base_manifest(str(path))
    path.write_text(json.dumps(base_manifest([{'reference': 'a:1', 'digest': 'sha256:1', 'batch': 1}])))
    manifest, info = _product.read_base_manifest(str(path))
    assert manifest['products'][0]['reference'] == 'a:1'
    assert info['file'] == 'old.json' and len(info['sha256']) == 64


def test_the_manifest_section_names_each_products_digest_referrers_and_run():
    registry = signed_registry()
    selection = select(registry, 'myregistry', ['app:v1', 'app:v2'], True, None, None)
    batches = _product.plan_batches('rel', 'rel', selection.products)
    section = _product.manifest_section(selection, batches)
    assert section['includeReferrers'] is True and section['unchanged'] == [] and 'base' not in section
    first, second = section['products']
    assert first['digest'] == registry.tags[('app', 'v1')] and first['batch'] == 1
    assert {r['scheme'] for r in first['referrers']} == {'api', 'cosign'}
    assert all(r['subject'] == first['digest'] for r in first['referrers'])
    assert second['referrers'] == [] and second['batch'] == 1


def test_two_tags_of_one_image_share_one_search_and_its_referrers_travel_once():
    registry = signed_registry()
    registry.tags[('app', 'latest')] = registry.tags[('app', 'v1')]
    selection = select(registry, 'myregistry', ['app:v1', 'app:latest'], include_referrers=True)
    assert [call[0] for call in registry.calls].count('REFERRERS') == 3   # the image and its two referrers, once
    assert selection.products[0].referrers == selection.products[1].referrers
    assert pack(selection.products) == [selection.products[0].artifacts + ('app:latest',)]
