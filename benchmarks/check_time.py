#!/usr/bin/env python
# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""How long `az acr export-pipeline|import-pipeline check` takes against the running sandbox, next to
`az acr export-pipeline show` (the same az start-up and one ARM GET) in the same run.

Uses the running sandbox (`make sandbox-up`, with your ACRSANDBOX_HOME / ACRSANDBOX_PORT_BASE), or with
--latency-ms N starts one of its own (a temporary state dir, ACRSANDBOX_LATENCY_MS=N, ports from --port-base) and
stops it afterwards. Creates its own pipelines (granted with --grant-access), an import container holding --blobs
transfer blobs for the source trigger's eligibility check, then times each command N times alternately (wall
clock of the whole az process) and prints min / median, and the check / show ratios of the medians.

    .venv/bin/python benchmarks/check_time.py [--runs 10] [--blobs 20] [--latency-ms 50 [--port-base 28700]]
"""

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def cloud_env(home):
    env = dict(os.environ)
    for line in (home / 'source.env').read_text().splitlines():
        if line.startswith('export ') and not line.startswith('export PATH='):
            name, _, value = line[len('export '):].partition('=')
            env[name] = shlex.split(value)[0] if value else ''
    env['AZURE_CORE_ONLY_SHOW_ERRORS'] = 'true'
    return env


@contextmanager
def own_sandbox(latency_ms, port_base):
    """A sandbox of the benchmark's own with that latency on every request; yields its home."""
    wheels = sorted((REPO_ROOT / 'dist').glob('acrtransfer-*-py3-none-any.whl'), key=lambda p: p.stat().st_mtime)
    if not wheels:
        raise SystemExit('no extension wheel in dist/: run `make wheel` first')
    with tempfile.TemporaryDirectory(prefix='acrtransfer-bench-') as home:
        env = {**os.environ, 'ACRSANDBOX_HOME': home, 'ACRSANDBOX_PORT_BASE': str(port_base),
               'ACRSANDBOX_LATENCY_MS': str(latency_ms)}
        sandbox = [sys.executable, '-m', 'acrtransfer_sandbox']
        subprocess.run(sandbox + ['up', '--wheel', str(wheels[-1])], env=env, cwd=REPO_ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        try:
            yield Path(home)
        finally:
            subprocess.run(sandbox + ['down'], env=env, cwd=REPO_ROOT, check=False, stdout=subprocess.DEVNULL)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=10)
    parser.add_argument('--blobs', type=int, default=20)
    parser.add_argument('--latency-ms', type=int, default=None,
                        help='start a sandbox of its own with ACRSANDBOX_LATENCY_MS set to this')
    parser.add_argument('--port-base', type=int, default=int(os.environ.get('ACRSANDBOX_PORT_BASE', '28700')),
                        help='ports of that sandbox (with --latency-ms)')
    args = parser.parse_args()
    if args.latency_ms is None:
        measure(Path(os.environ.get('ACRSANDBOX_HOME', REPO_ROOT / '.sandbox')), args)
        return
    with own_sandbox(args.latency_ms, args.port_base) as home:
        print('sandbox with ACRSANDBOX_LATENCY_MS={}'.format(args.latency_ms))
        measure(home, args)


def measure(home, args):  # pylint: disable=too-many-locals
    env = cloud_env(home)
    az = [str(Path(sys.executable).parent / 'az')]

    def run(*argv, check=True):
        started = time.perf_counter()
        result = subprocess.run(az + list(argv), env=env, check=False, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        if check and result.returncode != 0:
            raise SystemExit('az {} exited {}: {}'.format(' '.join(argv), result.returncode, result.stderr[-500:]))
        return time.perf_counter() - started

    suffix = uuid.uuid4().hex[:8]
    reg = ['--resource-group', env['ACRSANDBOX_RESOURCE_GROUP'], '--registry', env['ACRSANDBOX_REGISTRY']]
    exporter, importer, container = 'benchexp' + suffix, 'benchimp' + suffix, 'bench' + suffix
    container_uri = env['ACRSANDBOX_STORAGE_CONTAINER_URI'].rsplit('/', 1)[0] + '/' + container
    connection = ['--connection-string', env['ACRSANDBOX_STORAGE_CONNECTION_STRING']]
    run('acr', 'export-pipeline', 'create', *reg, '--name', exporter, '--secret-uri', env['ACRSANDBOX_SECRET_URI'],
        '--storage-container-uri', env['ACRSANDBOX_STORAGE_CONTAINER_URI'], '--grant-access')
    run('storage', 'container', 'create', *connection, '--name', container)
    for index in range(args.blobs):
        run('storage', 'blob', 'upload', *connection, '--container-name', container, '--name', 'blob{}'.format(index),
            '--data', 'not a transfer blob {}'.format(index))
    # No category metadata: the trigger leaves them alone, and check judges (and fails) every one of them.
    run('acr', 'import-pipeline', 'create', *reg, '--name', importer, '--secret-uri', env['ACRSANDBOX_SECRET_URI'],
        '--storage-container-uri', container_uri, '--source-trigger-enabled', 'true', '--grant-access')
    commands = {
        'export-pipeline show': ['acr', 'export-pipeline', 'show', *reg, '--name', exporter],
        'export-pipeline check': ['acr', 'export-pipeline', 'check', *reg, '--name', exporter],
        'export-pipeline check --storage-blob --artifacts x2': [
            'acr', 'export-pipeline', 'check', *reg, '--name', exporter, '--storage-blob', 'bench' + suffix,
            '--artifacts', 'hello-world:latest', 'hello-world:v2'],
        'import-pipeline check, trigger on, {} blobs'.format(args.blobs): [
            'acr', 'import-pipeline', 'check', *reg, '--name', importer, '--storage-blob', 'blob0'],
    }
    failing = {name for name in commands if name.startswith('import')}  # its blobs are Failed: exit code 1
    try:
        for name, argv in commands.items():  # warms az's command index and the file cache
            run(*argv, check=name not in failing)
        timings = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, argv in commands.items():
                timings[name].append(run(*argv, check=name not in failing))
    finally:
        run('acr', 'export-pipeline', 'delete', *reg, '--name', exporter, check=False)
        run('acr', 'import-pipeline', 'delete', *reg, '--name', importer, check=False)
        run('storage', 'container', 'delete', *connection, '--name', container, check=False)
    for name, values in timings.items():
        print('{:55s} min {:.2f}s  median {:.2f}s  ({} runs)'.format(
            name, min(values), statistics.median(values), len(values)))
    show = statistics.median(timings['export-pipeline show'])
    for name in ('export-pipeline check', 'export-pipeline check --storage-blob --artifacts x2'):
        print('ratio {:49s} {:.2f}x show (medians)'.format(name, statistics.median(timings[name]) / show))


if __name__ == '__main__':
    main()
