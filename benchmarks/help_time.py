#!/usr/bin/env python
# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""How long `az acr export-pipeline create -h` takes next to `az acr show -h`, in one run.

Installs the extension from a wheel into a private config dir, warms az's command index, then times each help
command N times alternately (wall clock of the whole `az` process) and prints min / median.

    .venv/bin/python benchmarks/help_time.py --wheel dist/acrtransfer-2.1.0-py3-none-any.whl [--runs 10]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

COMMANDS = {'az acr export-pipeline create -h': ['acr', 'export-pipeline', 'create', '-h'],
            'az acr show -h': ['acr', 'show', '-h']}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--wheel', required=True)
    parser.add_argument('--runs', type=int, default=10)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix='acrtransfer-help-') as home:
        env = {key: value for key, value in os.environ.items() if not key.startswith('AZURE_')}
        env.update({'AZURE_CONFIG_DIR': os.path.join(home, 'config'),
                    'AZURE_EXTENSION_DIR': os.path.join(home, 'ext'), 'AZURE_CORE_COLLECT_TELEMETRY': 'false'})
        az = [sys.executable, '-m', 'azure.cli']

        def run(argv):
            started = time.perf_counter()
            subprocess.run(az + argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            return time.perf_counter() - started

        run(['extension', 'add', '--source', os.path.abspath(args.wheel), '-y'])
        for argv in COMMANDS.values():  # builds the command index and warms the file cache
            run(argv)
        timings = {name: [] for name in COMMANDS}
        for _ in range(args.runs):
            for name, argv in COMMANDS.items():
                timings[name].append(run(argv))
    for name, values in timings.items():
        print('{:40s} min {:.2f}s  median {:.2f}s  ({} runs)'.format(
            name, min(values), statistics.median(values), len(values)))


if __name__ == '__main__':
    main()
