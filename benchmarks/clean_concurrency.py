"""Benchmark (not a test): `az acr pipeline-run clean` one run at a time versus concurrently, in the same run.

Starts a sandbox of its own (state in a temporary ACRSANDBOX_HOME, ports from --port-base) with
ACRSANDBOX_LATENCY_MS (default 50) on every request and ACRSANDBOX_ASYNC_RUN_DELETE=1, so every run DELETE
answers 202 + Location and the run takes a second to go, as the spec's long-running form allows. In the source
cloud: an export pipeline whose identity has no Key Vault access (its runs fail) and one with access (its runs
succeed). Each round creates --runs failed runs and keeps --keep succeeded ones, then times `az acr pipeline-run
clean` with AZURE_ACRTRANSFER_CLEAN_CONCURRENCY=1 (one after the other), then the default concurrency, and checks
that every failed run is gone and the succeeded ones are untouched.

    .venv/bin/python benchmarks/clean_concurrency.py --port-base 29100
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

# transfer_baseline first: it puts the checkout and tests/sandbox on sys.path for the imports after it.
from transfer_baseline import REPO_ROOT  # noqa: F401  pylint: disable=unused-import
from sandbox_workflow import DEFAULT_PORT_BASE, OwnSandbox, newest_wheel
from tests.e2e.conftest import Cloud

API = '?api-version=2025-06-01-preview'
GOAL = 8.0
FAILING_PIPELINE = 'benchfailing'
WORKING_PIPELINE = 'benchworking'
ARTIFACT = 'hello-world:latest'


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--runs', type=int, default=200, help='failed runs to clean in each round')
    parser.add_argument('--keep', type=int, default=5, help='succeeded runs that must survive both rounds')
    parser.add_argument('--latency-ms', type=int, default=50, help='ACRSANDBOX_LATENCY_MS of the sandbox')
    parser.add_argument('--port-base', type=int, default=DEFAULT_PORT_BASE,
                        help="ACRSANDBOX_PORT_BASE of the benchmark's sandbox (uses base+1 .. base+20)")
    parser.add_argument('--wheel', type=Path, help='the extension wheel (default: the newest in dist/)')
    return parser.parse_args()


class Arm:
    """Direct ARM calls with the operator's token, to set the stage quickly (the timed part goes through az)."""

    def __init__(self, cloud: Cloud):
        token = cloud.az('account', 'get-access-token')['accessToken']
        self.cloud = cloud
        self.session = requests.Session()
        self.session.headers['Authorization'] = 'Bearer ' + token
        self.ca_bundle = cloud['REQUESTS_CA_BUNDLE']
        self.registry = '{}subscriptions/{}/resourceGroups/{}/providers/Microsoft.ContainerRegistry/registries/{}' \
            .format(cloud['ACRSANDBOX_ARM_ENDPOINT'], cloud['ACRSANDBOX_SUBSCRIPTION'], cloud.group, cloud.registry)

    def put_run(self, name: str, pipeline_id: str) -> None:
        body = {'properties': {'request': {'pipelineResourceId': pipeline_id, 'artifacts': [ARTIFACT],
                                           'target': {'type': 'AzureStorageBlob', 'name': 'bench-' + name}}}}
        response = self.session.put('{}/pipelineRuns/{}{}'.format(self.registry, name, API), json=body, timeout=60,
                                    verify=self.ca_bundle)
        response.raise_for_status()

    def runs(self) -> list:
        runs, url = [], '{}/pipelineRuns{}'.format(self.registry, API)
        while url:
            page = self.session.get(url, timeout=60, verify=self.ca_bundle)
            page.raise_for_status()
            body = page.json()
            runs.extend(body['value'])
            url = body.get('nextLink')
        return runs


def create_runs(arm: Arm, names: list, pipeline_id: str, state: str) -> None:
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda name: arm.put_run(name, pipeline_id), names))
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        states = {run['name']: run['properties']['provisioningState'] for run in arm.runs()}
        if all(states.get(name) in ('Succeeded', 'Failed') for name in names):
            wrong = [name for name in names if states[name] != state]
            if wrong:
                raise SystemExit('{} runs did not end {}: {}'.format(len(wrong), state, wrong[:5]))
            return
        time.sleep(1)
    raise SystemExit('the runs did not finish within 10 minutes')


def timed_clean(cloud: Cloud, concurrency) -> tuple:
    env = {**os.environ, **cloud.env, 'AZURE_CORE_ONLY_SHOW_ERRORS': 'true'}
    if concurrency is not None:
        env['AZURE_ACRTRANSFER_CLEAN_CONCURRENCY'] = str(concurrency)
    started = time.monotonic()
    result = subprocess.run([str(Path(sys.executable).parent / 'az'), 'acr', 'pipeline-run', 'clean',
                             '--resource-group', cloud.group, '--registry', cloud.registry, '--output', 'json'],
                            env=env, capture_output=True, text=True, timeout=3600, check=False)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit('clean failed: ' + result.stderr.strip()[-2000:])
    return seconds, json.loads(result.stdout)


def one_round(cloud: Cloud, arm: Arm, label: str, concurrency, runs: int, failing_id: str, kept: dict) -> float:
    names = ['fail{}{:04d}'.format(label, index) for index in range(runs)]
    print('{}: creating {} failed runs...'.format(label, runs))
    create_runs(arm, names, failing_id, 'Failed')
    print('{}: az acr pipeline-run clean ({})...'.format(
        label, 'one at a time' if concurrency == 1 else 'default concurrency'))
    seconds, result = timed_clean(cloud, concurrency)
    remaining = {run['name']: run for run in arm.runs()}
    leftover = [name for name in names if name in remaining]
    touched = [name for name, run in kept.items() if remaining.get(name) != run]
    if result['deleted'] != runs or result['failed'] != 0 or leftover or touched:
        raise SystemExit('{}: deleted {} of {} (left: {}), other runs touched: {}'.format(
            label, result['deleted'], runs, leftover[:5], touched))
    print('{}: {:.1f}s, {} deleted, none left, {} other runs untouched'.format(label, seconds, runs, len(kept)))
    return seconds


def run_benchmark(args: argparse.Namespace, home: Path) -> tuple:
    sandbox = OwnSandbox(home, args.port_base)
    sandbox.env.update(ACRSANDBOX_LATENCY_MS=str(args.latency_ms), ACRSANDBOX_ASYNC_RUN_DELETE='1')
    try:
        print('starting a sandbox in {} on ports {}..{} (latency {} ms, DELETE 202)...'.format(
            home, args.port_base + 1, args.port_base + 20, args.latency_ms))
        sandbox.cli('up', '--wheel', str(args.wheel or newest_wheel()))
        source = sandbox.cloud('source')
        arm = Arm(source)
        container = ['--storage-container-uri', source['ACRSANDBOX_STORAGE_CONTAINER_URI'],
                     '--secret-uri', source['ACRSANDBOX_SECRET_URI']]
        failing = source.acr('export-pipeline', 'create', '--name', FAILING_PIPELINE, *container)
        working = source.acr('export-pipeline', 'create', '--name', WORKING_PIPELINE, *container,
                             '--options', 'OverwriteBlobs')
        source.grant_secret_get(working['identity']['principalId'])
        keep = ['keep{:04d}'.format(index) for index in range(args.keep)]
        create_runs(arm, keep, working['id'], 'Succeeded')
        kept = {run['name']: run for run in arm.runs() if run['name'] in keep}
        sequential = one_round(source, arm, 'sequential', 1, args.runs, failing['id'], kept)
        concurrent = one_round(source, arm, 'concurrent', None, args.runs, failing['id'], kept)
        return sequential, concurrent
    finally:
        print(sandbox.cli('down').strip())


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix='bench-clean-') as home:
        sequential, concurrent = run_benchmark(args, Path(home))
    ratio = sequential / concurrent
    print('clean of {} failed runs, DELETE 202 + Location, {} ms latency: one at a time {:.1f}s, concurrent {:.1f}s, '
          'ratio {:.1f}x (goal >= {:.0f}x): {}'.format(args.runs, args.latency_ms, sequential, concurrent, ratio, GOAL,
                                                       'met' if ratio >= GOAL else 'NOT met'))


if __name__ == '__main__':
    main()
