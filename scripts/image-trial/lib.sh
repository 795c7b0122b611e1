# Shared settings of the image-trial scripts (sourced, not run). Needs root; never run in CI.
# Everything generated lives under $TRIAL (default /var/tmp/image-trial), outside the repository.
set -euo pipefail
TRIAL=${TRIAL:-/var/tmp/image-trial}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# A storage of its own (vfs: no overlay mounts needed) so the trial never touches the machine's
# default container storage.
BUILDAH=(buildah --root "$TRIAL/storage" --runroot "$TRIAL/runroot" --storage-driver vfs)
export BUILDAH_ISOLATION=chroot
NODE_MAJOR=${NODE_MAJOR:-26}
NPM_MAJOR=${NPM_MAJOR:-11}
log() { printf '[image-trial %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
need_root() { [ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }; }
