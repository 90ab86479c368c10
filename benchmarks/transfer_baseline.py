"""What the two transfer benchmarks share: the image under test, the skopeo baseline they are measured against
(source registry -> oci-archive -> target registry) and the goals of issue 3 (<= 1.5x skopeo's time, <= 150 MB RSS).
"""
import os
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / 'tests' / 'sandbox'))

from servers import SKOPEO_INSTALL, find_binary  # noqa: E402

REPOSITORY = 'bench/large'
TAG = 'latest'
IMAGE = '{}:{}'.format(REPOSITORY, TAG)
TIME_GOAL = 1.5
RSS_GOAL_MIB = 150


def time_skopeo(source: str, target: str, workdir: str) -> tuple[float, float]:
    """skopeo copy of IMAGE from the registry at host:port `source` into an oci-archive in `workdir`, then from the
    archive into the registry at `target`; returns the seconds of each half."""
    skopeo = find_binary('skopeo', SKOPEO_INSTALL)
    archive = os.path.join(workdir, 'skopeo.tar')
    env = dict(os.environ, TMPDIR=workdir)
    started = time.monotonic()
    subprocess.run([skopeo, 'copy', '--quiet', '--src-tls-verify=false',
                    'docker://{}/{}'.format(source, IMAGE), 'oci-archive:{}:{}'.format(archive, IMAGE)],
                   check=True, env=env)
    middle = time.monotonic()
    subprocess.run([skopeo, 'copy', '--quiet', '--dest-tls-verify=false',
                    'oci-archive:{}:{}'.format(archive, IMAGE), 'docker://{}/{}'.format(target, IMAGE)],
                   check=True, env=env)
    return middle - started, time.monotonic() - middle


def goal_verdict(ratio: float, peak_rss_mib: float) -> str:
    met = ratio <= TIME_GOAL and peak_rss_mib <= RSS_GOAL_MIB
    return 'ratio {:.2f} (goal <= {}); peak RSS {:.0f} MiB (goal <= {} MiB): {}'.format(
        ratio, TIME_GOAL, peak_rss_mib, RSS_GOAL_MIB, 'met' if met else 'NOT met')
