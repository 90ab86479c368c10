# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""What an artifact's layers must be for a transfer: none over the service's per-layer limit, and, to be usable in
the other cloud, none foreign (non-distributable): those are exported as references only, and pulls there would
go out to the layer's URL."""

from ._check_result import failed, passed, warning

NAME_LAYERS = 'Layers {}'
# The service's documented per-layer limit is 8 GB; read as GiB here (a guess: the documentation does not say which).
LAYER_LIMIT_BYTES = 8 * 1024 ** 3
FOREIGN_MEDIA_TYPES = (
    'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
    'application/vnd.oci.image.layer.nondistributable.v1.tar',
    'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
    'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
)

# Messages and fix commands, formatted where a rule reports them.
TOO_LARGE = "Layer {digest}{where} is {size:.1f} GiB: over the {limit} GiB per layer a transfer can carry."
FOREIGN = ("Layer {digest}{where} is foreign (non-distributable, {media_type}): it is not exported, and pulls in "
           "the other cloud would go out to {urls}.")
LAYERS_FINE = '{count} layer(s), the largest {size:.2f} GiB: within the limit, none foreign.'
NO_LAYERS = 'No layers to judge.'
WHERE = ' ({})'
SPLIT_LAYER_FIX = 'Rebuild {} with smaller layers (split large files over several RUN/COPY steps) and push it again.'
NO_FIX_COMMAND = None  # a foreign layer is the image author's choice: no command makes it distributable


def platform_manifests(manifest):
    """(platform label, digest) of each manifest an index or manifest list names; None for an image manifest."""
    if not isinstance(manifest.get('manifests'), list):
        return None
    found = []
    for entry in manifest['manifests']:
        if isinstance(entry, dict) and isinstance(entry.get('digest'), str):
            platform = entry.get('platform') if isinstance(entry.get('platform'), dict) else {}
            found.append(('/'.join(platform[key] for key in ('os', 'architecture', 'variant')
                                   if isinstance(platform.get(key), str)), entry['digest']))
    return found


def layers_of(platform, manifest):
    """(platform, layer descriptor) of an image manifest's layers."""
    return [(platform, layer) for layer in manifest.get('layers') or [] if isinstance(layer, dict)]


def is_foreign(layer):
    return layer.get('mediaType') in FOREIGN_MEDIA_TYPES or bool(layer.get('urls'))


def layer_rule(artifact, layers):
    """`layers`: (platform or '', layer descriptor) for every layer of every platform of the artifact."""
    name = NAME_LAYERS.format(artifact)
    sizes = [layer.get('size') if isinstance(layer.get('size'), int) else 0 for _, layer in layers]
    for (platform, layer), size in zip(layers, sizes):
        if size > LAYER_LIMIT_BYTES:
            return failed(name, TOO_LARGE.format(digest=layer.get('digest'), where=_where(platform),
                                                 size=size / 1024 ** 3, limit=LAYER_LIMIT_BYTES // 1024 ** 3),
                          SPLIT_LAYER_FIX.format(artifact))
    for platform, layer in layers:
        if is_foreign(layer):
            return warning(name, FOREIGN.format(digest=layer.get('digest'), where=_where(platform),
                                                media_type=layer.get('mediaType'),
                                                urls=', '.join(layer.get('urls') or []) or 'its URL'),
                           NO_FIX_COMMAND)
    if not layers:
        return passed(name, NO_LAYERS)
    return passed(name, LAYERS_FINE.format(count=len(layers), size=max(sizes) / 1024 ** 3))


def _where(platform):
    return WHERE.format(platform) if platform else ''
