"""Benchmark (not a test): `az acr pipeline-run create-batch` with 200 small artifacts through the sandbox, one run
at a time (--max-concurrent-runs 1) versus the default, in the same run of this script on the same sandbox.

Starts a sandbox of its own (state in a temporary ACRSANDBOX_HOME, ports from --port-base), creates an export
pipeline (SasToken) and an import pipeline (ManagedIdentity, source trigger off) before any clock starts. Each mode
gets 200 fresh images of its own (4 repositories x 50 tags, distinct digests, one shared small layer), so neither
mode finds the other's blobs or tags already in place. Per mode, timed with the az wall time: the export batch
(4 runs of 50; and the same command with --dry-run, to show the part that is az start-up, tag listing and
planning), then, after the cross-domain copy (not timed), the import batch from the export's manifest. Every
imported tag's digest is checked against the source. Prints the wall times, the seconds per artifact and the ratio.

    .venv/bin/python benchmarks/batch_concurrency.py [--port-base 29100] [--artifacts 200]
"""
import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

# sandbox_workflow first: it puts the checkout on sys.path for the imports after it.
from sandbox_workflow import DEFAULT_PORT_BASE, OwnSandbox, newest_wheel
from acrtransfer_sandbox.rules.pipelines import MAX_ARTIFACTS
from azext_acrtransfer._validators import DEFAULT_MAX_CONCURRENT_RUNS
from tests.e2e.workflow import copy_blob, create_batch, create_export_pipeline, create_import_pipeline

EXPORT_PIPELINE = 'benchbatchexport'
IMPORT_PIPELINE = 'benchbatchimport'
MODES = (('one', 1), ('default', None))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--artifacts', type=int, default=200, help='artifacts per mode (a multiple of 50)')
    parser.add_argument('--port-base', type=int, default=DEFAULT_PORT_BASE,
                        help="ACRSANDBOX_PORT_BASE of the benchmark's sandbox (uses base+1 .. base+20)")
    parser.add_argument('--wheel', type=Path, help='the extension wheel (default: the newest in dist/)')
    return parser.parse_args()


def timed_batch(cloud, *args: str) -> tuple:
    started = time.monotonic()
    result = create_batch(cloud, *args)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit('create-batch failed: {}'.format(result.stderr.strip()[-2000:]))
    return seconds, json.loads(result.stdout)


def run_mode(sandbox: OwnSandbox, source, target, mode: str, limit, count: int, workdir: Path) -> dict:
    repositories = ['bench{}{}'.format(mode, number) for number in range(count // MAX_ARTIFACTS)]
    digests = {}
    for repository in repositories:
        digests.update(json.loads(sandbox.cli('push-small-images', '--cloud', 'source', '--repository', repository,
                                              '--count', str(MAX_ARTIFACTS))))
    concurrency = ['--max-concurrent-runs', str(limit)] if limit else []
    manifest = workdir / '{}.json'.format(mode)
    export_args = ('--pipeline', EXPORT_PIPELINE, '--name-prefix', 'bx' + mode, '--storage-blob-prefix',
                   'bench-' + mode, '--repository', *repositories, *concurrency)
    # The same command with --dry-run: az's start-up, the tag listing and the plan, without any run.
    fixed_seconds, _ = timed_batch(source, *export_args, '--dry-run')
    export_seconds, runs = timed_batch(source, *export_args, '--manifest-file', str(manifest))
    blobs = [batch['blob'] for batch in json.loads(manifest.read_text())['batches']]
    for blob in blobs:
        copy_blob(source, target, blob)
    import_seconds, imported = timed_batch(target, '--pipeline-type', 'import', '--pipeline', IMPORT_PIPELINE,
                                           '--name-prefix', 'bi' + mode, '--manifest-file', str(manifest),
                                           *concurrency)
    wrong = [ref for ref, digest in digests.items() if target.manifest_digest(ref) != digest]
    if wrong:
        raise SystemExit('{} imported digest(s) differ from the source, e.g. {}'.format(len(wrong), wrong[0]))
    overlap = max(r['response']['startTime'] for r in runs) < min(r['response']['finishTime'] for r in runs)
    return {'export': export_seconds, 'import': import_seconds, 'runs': len(runs), 'imports': len(imported),
            'all_at_once': overlap, 'dry_run': fixed_seconds}


def main() -> None:
    args = parse_args()
    if args.artifacts % MAX_ARTIFACTS:
        raise SystemExit('--artifacts must be a multiple of {}'.format(MAX_ARTIFACTS))
    wheel = args.wheel or newest_wheel()
    figures = {}
    with tempfile.TemporaryDirectory(prefix='bench-batch-') as home:
        sandbox = OwnSandbox(Path(home), args.port_base)
        try:
            print('starting a sandbox in {} on ports {}..{}...'.format(home, args.port_base + 1, args.port_base + 20))
            sandbox.cli('up', '--wheel', str(wheel))
            source, target = sandbox.cloud('source'), sandbox.cloud('target')
            create_export_pipeline(source, EXPORT_PIPELINE)
            create_import_pipeline(target, IMPORT_PIPELINE, trigger=False)
            for mode, limit in MODES:
                print('{} artifacts, --max-concurrent-runs {}...'.format(
                    args.artifacts, limit or '{} (default)'.format(DEFAULT_MAX_CONCURRENT_RUNS)))
                figures[mode] = run_mode(sandbox, source, target, mode, limit, args.artifacts, Path(home))
        finally:
            print(sandbox.cli('down').strip())
    report(args.artifacts, figures)


def report(count: int, figures: dict) -> None:
    for mode, limit in MODES:
        f = figures[mode]
        total = f['export'] + f['import']
        print('--max-concurrent-runs {:>11}: export {:6.1f}s ({} runs{}; the same with --dry-run {:.1f}s), import '
              '{:6.1f}s ({} runs); {:.3f}s per artifact (export + import)'.format(
                  limit or '{} (default)'.format(DEFAULT_MAX_CONCURRENT_RUNS), f['export'], f['runs'],
                  ', all at once' if f['all_at_once'] else '', f['dry_run'], f['import'], f['imports'],
                  total / count))
    one, default = figures['one'], figures['default']
    print('ratio one-at-a-time / default: export {:.2f}, import {:.2f}, both {:.2f}'.format(
        one['export'] / default['export'], one['import'] / default['import'],
        (one['export'] + one['import']) / (default['export'] + default['import'])))


if __name__ == '__main__':
    sys.exit(main())
