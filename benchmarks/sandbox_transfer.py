"""Benchmark (not a test): export + import of a large multi-layer image through the sandbox's transfer engine
versus skopeo (source registry -> oci-archive -> target registry), on the same machine in the same run.

Starts its own Azurite and three docker-registry instances (source, engine's target, skopeo's target) on free
127.0.0.1 ports, stops them all at the end. The engine runs in a child process so that its peak RSS (ru_maxrss) is
its own.

    .venv/bin/python benchmarks/sandbox_transfer.py --size-mib 1024 --layers 8
"""
import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time

import aiohttp

# transfer_baseline first: it puts the checkout and tests/sandbox on sys.path for the two imports after it.
from transfer_baseline import IMAGE, REPOSITORY, TAG, goal_verdict, time_skopeo
from acrtransfer_sandbox.transfer import (BlobContainer, RegistryClient, export_to_blob, import_from_blob,
                                          push_large_image)
from servers import AzuriteServer, RegistryServer

CONTAINER = 'transfer'
BLOB_NAME = 'bench-export.tar'


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--size-mib', type=int, default=1024, help='total size of the image layers (MiB)')
    parser.add_argument('--layers', type=int, default=8, help='number of layers')
    parser.add_argument('--engine-child', help=argparse.SUPPRESS)   # internal: run the engine half, print JSON
    return parser.parse_args()


async def push_image(registry_url: str, size_mib: int, layers: int) -> str:
    async with aiohttp.ClientSession() as session:
        return await push_large_image(RegistryClient(session, registry_url), REPOSITORY, TAG, size_mib << 20, layers)


async def run_engine(settings: dict) -> dict:
    """The engine half, in the child process: export to the blob, import it into the engine's target registry."""
    timeout = aiohttp.ClientTimeout(total=None, sock_read=300)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        source = RegistryClient(session, settings['source'])
        target = RegistryClient(session, settings['target'])
        container = BlobContainer.with_account_key(session, settings['container_url'], settings['account'],
                                                   settings['key'])
        started = time.monotonic()
        exported = await export_to_blob(source, container, BLOB_NAME, [IMAGE],
                                        {'OverwriteBlobs'}, lambda percent: None)
        middle = time.monotonic()
        imported = await import_from_blob(container, BLOB_NAME, target, {'OverwriteTags'}, lambda percent: None)
        finished = time.monotonic()
    return {'export_seconds': middle - started, 'import_seconds': finished - middle,
            'blob_size': exported.blob_size, 'imported': imported.imported_artifacts}


def time_engine(settings: dict) -> tuple[dict, int]:
    """Run the engine in a child process; returns its result and its peak RSS in KiB."""
    child = subprocess.Popen([sys.executable, __file__, '--engine-child', json.dumps(settings)],
                             stdout=subprocess.PIPE)
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit('engine child failed with exit code {}'.format(child.returncode))
    return json.loads(output), usage.ru_maxrss


def main() -> None:
    args = parse_args()
    if args.engine_child:
        print(json.dumps(asyncio.run(run_engine(json.loads(args.engine_child)))))
        return
    servers = []
    try:
        azurite = AzuriteServer().start()
        servers.append(azurite)
        source, engine_target, skopeo_target = (RegistryServer().start() for _ in range(3))
        servers.extend([source, engine_target, skopeo_target])
        from azure.storage.blob import BlobServiceClient
        BlobServiceClient.from_connection_string(azurite.connection_string).create_container(CONTAINER)

        print('pushing a {} MiB image of {} layers into the source registry...'.format(args.size_mib, args.layers))
        digest = asyncio.run(push_image(source.url, args.size_mib, args.layers))

        with tempfile.TemporaryDirectory(prefix='bench-skopeo-') as workdir:
            skopeo_export, skopeo_import = time_skopeo(source.url.split('//')[1], skopeo_target.url.split('//')[1],
                                                       workdir)
        settings = {'source': source.url, 'target': engine_target.url, 'account': azurite.account_name,
                    'key': azurite.account_key, 'container_url': '{}/{}'.format(azurite.url, CONTAINER)}
        engine, peak_rss_kib = time_engine(settings)
        check_digest(engine_target.url, digest)
    finally:
        for server in servers:
            server.stop()
    report(args, engine, peak_rss_kib, skopeo_export, skopeo_import)


def check_digest(target_url: str, digest: str) -> None:
    async def target_digest() -> str:
        async with aiohttp.ClientSession() as session:
            return await RegistryClient(session, target_url).tag_digest(REPOSITORY, TAG)
    imported = asyncio.run(target_digest())
    if imported != digest:
        raise SystemExit('imported digest {} differs from the source digest {}'.format(imported, digest))


def report(args, engine: dict, peak_rss_kib: int, skopeo_export: float, skopeo_import: float) -> None:
    engine_total = engine['export_seconds'] + engine['import_seconds']
    skopeo_total = skopeo_export + skopeo_import
    ratio = engine_total / skopeo_total
    peak_mib = peak_rss_kib / 1024
    print('image: {} MiB in {} layers; transfer blob {:.1f} MiB'.format(
        args.size_mib, args.layers, engine['blob_size'] / 2 ** 20))
    print('engine: export {:.1f}s + import {:.1f}s = {:.1f}s, peak RSS {:.0f} MiB'.format(
        engine['export_seconds'], engine['import_seconds'], engine_total, peak_mib))
    print('skopeo: to oci-archive {:.1f}s + to registry {:.1f}s = {:.1f}s'.format(
        skopeo_export, skopeo_import, skopeo_total))
    print('engine/skopeo ' + goal_verdict(ratio, peak_mib))


if __name__ == '__main__':
    main()
