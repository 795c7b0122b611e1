#!/usr/bin/env bash
# Looks inside a built image and runs its entry point once (a coupler_key_exchange run, files
# made as a stock 4.14 node makes them: root-owned 0644 OUTPUT_FILE, root-owned TEMPORARY_FOLDER,
# unless FILES=uid1000, or FILES=output1000 for OUTPUT_FILE only) with Node's compile-cache log on (NODE_DEBUG_NATIVE=COMPILE_CACHE), to see
# whether the compile cache the image ships is used by the process the entry point starts.
#   sudo scripts/image-trial/check-image.sh coupler-central:latest
# METHOD=<name> runs another method of the image's module (default coupler_key_exchange).
source "$(dirname "$0")/lib.sh"
need_root
IMAGE=${1:?image}
FILES=${FILES:-stock}
W=$(mktemp -d "$TRIAL/check.XXXXXX")
ctr=$("${BUILDAH[@]}" from --pull=never "$IMAGE")
trap '"${BUILDAH[@]}" umount "$ctr" >/dev/null 2>&1; "${BUILDAH[@]}" rm "$ctr" >/dev/null 2>&1' EXIT
mnt=$("${BUILDAH[@]}" mount "$ctr")
echo "== $IMAGE: user $("${BUILDAH[@]}" inspect --type image --format '{{.OCIv1.Config.User}}' "$IMAGE"), $(du -sh "$mnt" | cut -f1)"
echo "-- /tmp:"; (cd "$mnt/tmp" && find . -mindepth 1 -maxdepth 2 | head -5; du -sh . | cut -f1) || true
echo "-- npm state in homes:"; (cd "$mnt" && find root/.npm home/node/.npm -maxdepth 2 2>/dev/null | head -8) || true
echo "-- empty files the build's volumes could leave:"; (cd "$mnt" && find usr/local/etc run -maxdepth 1 -type f -empty 2>/dev/null) || true
echo "-- compile cache folders (version-arch-hash-uid):"; (cd "$mnt/var/cache/coupler/node-compile-cache" && for d in *; do echo "$d $(ls "$d" | wc -l) entries, owner $(stat -c %U "$d")"; done) || true
echo "-- writable by uid 1000 under /opt/coupler, /node_modules, /usr/local:"; (cd "$mnt" && find opt/coupler node_modules usr/local \( -user 1000 -o -perm -0002 \) ! -type l 2>/dev/null | head -5) || true
echo "-- /app:"; ls -la "$mnt/app"
"${BUILDAH[@]}" umount "$ctr" >/dev/null

# One run (key exchange unless METHOD says otherwise) through the image's own ENTRYPOINT, as the image's USER.
mkdir -p "$W/task" "$W/tmp"; chmod 0755 "$W/task" "$W/tmp"
printf '{"method":"%s","args":[],"kwargs":{}}' "${METHOD:-coupler_key_exchange}" > "$W/task/input"
: > "$W/task/output"; chmod 0644 "$W/task/input" "$W/task/output"
b64() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
sub='{"client_type":"container","node_id":13,"organization_id":3,"collaboration_id":1,"study_id":null,"store_id":null,"task_id":41,"image":"coupler-algo:1","databases":[]}'
printf '%s.%s.c2ln' "$(printf '{"alg":"HS256","typ":"JWT"}' | b64)" "$(printf '{"sub":%s,"fresh":false,"type":"access"}' "$sub" | b64)" > "$W/task/token"
chmod 0644 "$W/task/token"
case $FILES in uid1000) chown 1000:1000 "$W/task/output" "$W/tmp" ;; output1000) chown 1000:1000 "$W/task/output" ;; esac
enc() { printf '%s' "$1" | base32 -w0 | tr '=' '!'; }
mapfile -t EP < <("${BUILDAH[@]}" inspect --type image --format '{{range .OCIv1.Config.Entrypoint}}{{println .}}{{end}}' "$IMAGE" | sed '/^$/d')
set +e
"${BUILDAH[@]}" run --isolation chroot --network host -v "$W/task:/mnt/data/task-000000041" -v "$W/tmp:/mnt/tmp" \
  -e INPUT_FILE="$(enc /mnt/data/task-000000041/input)" -e OUTPUT_FILE="$(enc /mnt/data/task-000000041/output)" \
  -e TOKEN_FILE="$(enc /mnt/data/task-000000041/token)" -e TEMPORARY_FOLDER="$(enc /mnt/tmp)" \
  -e HOST="$(enc http://127.0.0.1)" -e PORT="$(enc 9)" -e API_PATH="" \
  -e NODE_DEBUG_NATIVE=COMPILE_CACHE "$ctr" -- "${EP[@]}" > "$W/stdout" 2> "$W/stderr"
rc=$?
set -e
echo "-- entry point ${EP[*]}: exit $rc; output: $(head -c 200 "$W/task/output")"
grep -v '^\[compile cache\]' "$W/stderr" | head -5 || true
echo "-- compile cache of that process:"
grep -E '^\[compile cache\] V8 code cache for' "$W/stderr" | sed -E 's/.* for (CommonJS|ESM) ([^ ]+) (was|is) ?(.*)$/\4/' | sort | uniq -c || true
grep -E 'creating cache directory|cannot|failed|skip|disabled' "$W/stderr" | head -5 || true
grep -E '^\[compile cache\] V8 code cache for' "$W/stderr" | grep -v accepted | sed -E 's/^\[compile cache\] V8 code cache for //' | head -8 || true
echo "-- TEMPORARY_FOLDER after: $(ls -ln "$W/tmp" | tail -n +2)"
rm -rf "$W"
