"""Benchmark (not a test): export + import of a large multi-layer image through the sandbox, with the real az and
the extension as an operator runs them, versus skopeo (source registry -> oci-archive -> a fresh registry), on the
same machine in the same run.

Starts a sandbox of its own (`python -m acrtransfer_sandbox up`, state in a temporary ACRSANDBOX_HOME, ports from
--port-base, apart from a developer's 27100 and the end-to-end suite's 28300) and pushes the image with
`push-large-image`. Then, in the source cloud: export pipeline (SasToken) + `az keyvault set-policy` + `az acr
pipeline-run create --pipeline-type export`; the cross-domain copy as the README documents it; in the target
cloud: import pipeline (ManagedIdentity, source trigger disabled) + its role assignment + `az acr pipeline-run
create --pipeline-type import`. Reads the peak RSS (VmHWM) of the sandbox's cloud-front process and of Azurite
right after the runs, checks that the target's digest is the source's, and stops everything it started.

    .venv/bin/python benchmarks/sandbox_workflow.py --size-mib 1024
"""
import argparse
import datetime
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# transfer_baseline first: it puts the checkout and tests/sandbox on sys.path for the imports after it.
from transfer_baseline import IMAGE, REPO_ROOT, goal_verdict, time_skopeo
from acrtransfer_sandbox.runtime import processes
from acrtransfer_sandbox.runtime.bootstrap import AZURITE_PROCESS, SERVER_PROCESS
from servers import RegistryServer
from tests.e2e.conftest import Cloud, unique
from tests.e2e.workflow import copy_blob, create_export_pipeline, create_import_pipeline

DEFAULT_PORT_BASE = 29100
SANDBOX_COMMAND_TIMEOUT = 900   # `up` logs az in and installs the extension twice; a 1 GiB push takes minutes
EXPORT_PIPELINE = 'benchexport'
IMPORT_PIPELINE = 'benchimport'
BLOB_NAME = 'bench-workflow'
LAYERS = 8   # push-large-image's layer count


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--size-mib', type=int, default=1024, help='total size of the image layers (MiB)')
    parser.add_argument('--port-base', type=int, default=DEFAULT_PORT_BASE,
                        help='ACRSANDBOX_PORT_BASE of the benchmark\'s sandbox (uses base+1 .. base+20)')
    parser.add_argument('--wheel', type=Path, help='the extension wheel (default: the newest in dist/)')
    parser.add_argument('--copy', choices=['file', 'server'], default='file',
                        help='the cross-domain copy: download + upload as a CDS does (default), or the server-side '
                             '`az storage blob copy start`, which Azurite 3.35.0 fails with a 500 for a 1 GiB blob')
    return parser.parse_args()


def newest_wheel() -> Path:
    wheels = sorted((REPO_ROOT / 'dist').glob('acrtransfer-*-py3-none-any.whl'), key=lambda p: p.stat().st_mtime)
    if not wheels:
        raise SystemExit('no extension wheel in dist/: run `make wheel` or pass --wheel')
    return wheels[-1]


class OwnSandbox:
    """`python -m acrtransfer_sandbox` on a state directory and ports of the benchmark's own."""

    def __init__(self, home: Path, port_base: int):
        self.home = home
        self.env = dict(os.environ, ACRSANDBOX_HOME=str(home), ACRSANDBOX_PORT_BASE=str(port_base))

    def cli(self, *args: str) -> str:
        result = subprocess.run([sys.executable, '-m', 'acrtransfer_sandbox', *args], cwd=REPO_ROOT, env=self.env,
                                capture_output=True, text=True, timeout=SANDBOX_COMMAND_TIMEOUT, check=False)
        if result.returncode != 0:
            raise SystemExit('python -m acrtransfer_sandbox {} failed: {}'.format(args[0], result.stderr.strip()))
        return result.stdout

    def cloud(self, name: str) -> Cloud:
        return Cloud(name, self.home / '{}.env'.format(name))

    def pid(self, process_name: str) -> int:
        pid = processes.running_pid(self.home / 'pids', process_name)
        if not pid:
            raise SystemExit('the sandbox\'s {} process is not running'.format(process_name))
        return pid


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set size so far (VmHWM), in MiB."""
    for line in Path('/proc/{}/status'.format(pid)).read_text().splitlines():
        if line.startswith('VmHWM:'):
            return int(line.split()[1]) / 1024
    raise SystemExit('no VmHWM in /proc/{}/status'.format(pid))


@dataclass
class TimedRun:
    az_seconds: float       # what the operator waits for: `az acr pipeline-run create` from start to exit
    run_seconds: float      # the run's own startTime .. finishTime, as the sandbox recorded them


def timed_pipeline_run(cloud: Cloud, pipeline: str, pipeline_type: str, *artifacts: str) -> TimedRun:
    artifact_args = ['--artifacts', *artifacts] if artifacts else []
    started = time.monotonic()
    run = cloud.acr('pipeline-run', 'create', '--pipeline', pipeline, '--name', unique(pipeline_type),
                    '--pipeline-type', pipeline_type, '--storage-blob', BLOB_NAME, *artifact_args)
    az_seconds = time.monotonic() - started
    response = run['response']
    if response['status'] != 'Succeeded':
        raise SystemExit('the {} run ended {}: {}'.format(pipeline_type, response['status'],
                                                          response.get('pipelineRunErrorMessage')))
    run_seconds = (datetime.datetime.fromisoformat(response['finishTime'])
                   - datetime.datetime.fromisoformat(response['startTime'])).total_seconds()
    return TimedRun(az_seconds, run_seconds)


@dataclass
class Figures:
    export: TimedRun
    copy_seconds: float
    import_: TimedRun
    skopeo_export: float
    skopeo_import: float
    front_rss_before: float
    front_rss: float
    azurite_rss: float
    load_before: tuple
    load_after: tuple

    @property
    def sandbox_seconds(self) -> float:
        return self.export.az_seconds + self.copy_seconds + self.import_.az_seconds

    @property
    def skopeo_seconds(self) -> float:
        return self.skopeo_export + self.skopeo_import


def copy_blob_as_file(source: Cloud, target: Cloud, blob: str, workdir: str) -> None:
    """The cross-domain hop as a CDS makes it (README, "The cross-domain copy"): download the blob as a file, upload
    it to the target container with the source's Content-MD5 and metadata, which the import needs."""
    path = os.path.join(workdir, blob)
    shown = source.blob(blob)
    source.az('storage', 'blob', 'download', '--connection-string', source['ACRSANDBOX_STORAGE_CONNECTION_STRING'],
              '--container-name', source['ACRSANDBOX_STORAGE_CONTAINER'], '--name', blob, '--file', path,
              '--no-progress')
    metadata = ['{}={}'.format(key, value) for key, value in shown['metadata'].items()]
    target.az('storage', 'blob', 'upload', '--connection-string', target['ACRSANDBOX_STORAGE_CONNECTION_STRING'],
              '--container-name', target['ACRSANDBOX_STORAGE_CONTAINER'], '--name', blob, '--file', path,
              '--content-md5', shown['properties']['contentSettings']['contentMd5'], '--metadata', *metadata,
              '--no-progress')
    os.remove(path)


def through_sandbox(source: Cloud, target: Cloud, copy: str, workdir: str) -> tuple[TimedRun, float, TimedRun]:
    """The workflow with az; the pipelines and their permissions are set up before the clock starts."""
    create_export_pipeline(source, EXPORT_PIPELINE)
    create_import_pipeline(target, IMPORT_PIPELINE, trigger=False)
    exported = timed_pipeline_run(source, EXPORT_PIPELINE, 'export', IMAGE)
    started = time.monotonic()
    if copy == 'server':
        copy_blob(source, target, BLOB_NAME)
    else:
        copy_blob_as_file(source, target, BLOB_NAME, workdir)
    copy_seconds = time.monotonic() - started
    imported = timed_pipeline_run(target, IMPORT_PIPELINE, 'import')
    return exported, copy_seconds, imported


def run_benchmark(args: argparse.Namespace, wheel: Path, home: Path) -> Figures:
    sandbox = OwnSandbox(home, args.port_base)
    skopeo_target = None
    try:
        print('starting a sandbox in {} on ports {}..{}...'.format(home, args.port_base + 1, args.port_base + 20))
        sandbox.cli('up', '--wheel', str(wheel))
        source, target = sandbox.cloud('source'), sandbox.cloud('target')
        print('pushing a {} MiB image into the source registry...'.format(args.size_mib))
        digest = sandbox.cli('push-large-image', '--cloud', 'source', '--image', IMAGE,
                             '--size-mb', str(args.size_mib)).strip()
        load_before = os.getloadavg()

        print('skopeo: source registry -> oci-archive -> a fresh registry...')
        skopeo_target = RegistryServer().start()
        with tempfile.TemporaryDirectory(prefix='bench-skopeo-') as workdir:
            skopeo_export, skopeo_import = time_skopeo(source['ACRSANDBOX_REGISTRY_BACKEND'],
                                                       skopeo_target.url.split('//')[1], workdir)

        print('through the sandbox: export run, cross-domain copy, import run...')
        front_rss_before = peak_rss_mib(sandbox.pid(SERVER_PROCESS))
        exported, copy_seconds, imported = through_sandbox(source, target, args.copy, str(home))
        front_rss = peak_rss_mib(sandbox.pid(SERVER_PROCESS))
        azurite_rss = peak_rss_mib(sandbox.pid(AZURITE_PROCESS))
        load_after = os.getloadavg()

        imported_digest = target.manifest_digest(IMAGE)
        if imported_digest != digest:
            raise SystemExit('the target digest {} differs from the source digest {}'.format(imported_digest, digest))
        print('target digest = source digest: {}'.format(digest))
        return Figures(exported, copy_seconds, imported, skopeo_export, skopeo_import, front_rss_before, front_rss,
                       azurite_rss, load_before, load_after)
    finally:
        if skopeo_target:
            skopeo_target.stop()
        print(sandbox.cli('down').strip())


def report(args: argparse.Namespace, figures: Figures) -> None:
    print('image: {} ({} MiB in {} layers)'.format(IMAGE, args.size_mib, LAYERS))
    print('through the sandbox (az wall time): export run {:.1f}s + copy ({}) {:.1f}s + import run {:.1f}s = {:.1f}s'
          .format(figures.export.az_seconds, args.copy, figures.copy_seconds, figures.import_.az_seconds,
                  figures.sandbox_seconds))
    print('  the runs by their own start/finish times: export {:.1f}s, import {:.1f}s'.format(
        figures.export.run_seconds, figures.import_.run_seconds))
    print('skopeo: to oci-archive {:.1f}s + to registry {:.1f}s = {:.1f}s'.format(
        figures.skopeo_export, figures.skopeo_import, figures.skopeo_seconds))
    print('peak RSS (VmHWM): cloud-front {:.0f} MiB ({:.0f} MiB before the runs), Azurite {:.0f} MiB'.format(
        figures.front_rss, figures.front_rss_before, figures.azurite_rss))
    print('load average (1, 5, 15 min): {} before, {} after'.format(
        ' '.join('{:.2f}'.format(x) for x in figures.load_before),
        ' '.join('{:.2f}'.format(x) for x in figures.load_after)))
    runs_only = figures.export.az_seconds + figures.import_.az_seconds
    print('without the copy (skopeo has no cross-domain hop): runs {:.1f}s, ratio {:.2f}'.format(
        runs_only, runs_only / figures.skopeo_seconds))
    print('sandbox/skopeo ' + goal_verdict(figures.sandbox_seconds / figures.skopeo_seconds, figures.front_rss))


def main() -> None:
    args = parse_args()
    wheel = args.wheel or newest_wheel()
    with tempfile.TemporaryDirectory(prefix='bench-sandbox-') as home:
        figures = run_benchmark(args, wheel, Path(home))
    report(args, figures)


if __name__ == '__main__':
    main()
