#!/usr/bin/env bash
# Run a command with a working Docker engine and a local base image, on a Debian
# machine that has no container registry (see README / CI notes). CI's `.ci/run` runs the
# test suite through it.
#
#   .ci/with-docker.sh [COMMAND ARGS...]
#
# Installs docker.io and debootstrap if missing, starts dockerd unless an engine
# already answers, makes the base image once (debootstrap + docker import), then
# runs COMMAND with DOCKER, DR_ONNX_BASE_IMAGE, REQUIRE_DOCKER=1 and
# DOCKER_BUILDKIT=0 exported. Without COMMAND it builds the repo's Dockerfile.
# A dockerd started here is stopped on exit, also on failure or Ctrl-C.
#
# Environment (optional):
#   DR_ONNX_DOCKER_DATA_ROOT  dockerd data root, kept between runs as the image cache
#                             (default /var/lib/dr-onnx-docker)
#   DR_ONNX_BASE_IMAGE        base image name (default dr-onnx-base:bookworm)
#   DR_ONNX_IMAGE             image built without COMMAND (default dr-onnx-env:local)
#   DR_ONNX_DEBIAN_MIRROR     Debian mirror for debootstrap (default: from apt config)
set -euo pipefail

# Always the Debian client: another one may be first on PATH and insist on buildx.
DOCKER_BIN=/usr/bin/docker
DOCKERD_BIN=/usr/sbin/dockerd
DATA_ROOT=${DR_ONNX_DOCKER_DATA_ROOT:-/var/lib/dr-onnx-docker}
DOCKERD_LOG="$DATA_ROOT.log"
BASE_IMAGE=${DR_ONNX_BASE_IMAGE:-dr-onnx-base:bookworm}
APP_IMAGE=${DR_ONNX_IMAGE:-dr-onnx-env:local}
SUITE=bookworm
BASE_PACKAGES=python3,python3-venv,python3-pip,python-is-python3,ca-certificates
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

DOCKERD_PID=""
ROOTFS=""

log() { printf '[with-docker] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.1f s", e - s }'; }

install_packages() {
    local missing=()
    [[ -x $DOCKER_BIN && -x $DOCKERD_BIN ]] || missing+=(docker.io)
    [[ -x /usr/sbin/debootstrap ]] || missing+=(debootstrap)
    ((${#missing[@]})) || return 0

    local t0; t0=$(now)
    log "installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    local apt_log; apt_log=$(mktemp /var/tmp/dr-onnx-apt.XXXXXX.log)
    if ! { apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"; } \
        </dev/null >"$apt_log" 2>&1; then
        tail -n 20 "$apt_log" >&2
        die "apt-get failed (log: $apt_log)"
    fi
    rm -f "$apt_log"
    log "installed ${missing[*]} in $(since "$t0")"
}

engine_answers() { "$DOCKER_BIN" info >/dev/null 2>&1; }

start_dockerd() {
    if engine_answers; then
        log "using the Docker engine that is already running"
        return 0
    fi
    local t0; t0=$(now)
    mkdir -p "$DATA_ROOT"
    log "starting dockerd (data root $DATA_ROOT, log $DOCKERD_LOG)"
    "$DOCKERD_BIN" --data-root "$DATA_ROOT" >"$DOCKERD_LOG" 2>&1 </dev/null &
    DOCKERD_PID=$!

    local deadline=$((SECONDS + 60))
    until engine_answers; do
        if ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
            wait "$DOCKERD_PID" || true
            DOCKERD_PID=""
            tail -n 20 "$DOCKERD_LOG" >&2 || true
            die "dockerd exited during start-up (log: $DOCKERD_LOG)"
        fi
        ((SECONDS < deadline)) || die "dockerd did not answer within 60 s (log: $DOCKERD_LOG)"
        sleep 0.5
    done
    log "dockerd (pid $DOCKERD_PID) ready in $(since "$t0")"
}

stop_dockerd() {
    [[ -n $DOCKERD_PID ]] || return 0
    local t0; t0=$(now)
    kill -TERM "$DOCKERD_PID" 2>/dev/null || true
    # Bounded: dockerd gives running containers up to 15 s to stop.
    local deadline=$((SECONDS + 60))
    while kill -0 "$DOCKERD_PID" 2>/dev/null && ((SECONDS < deadline)); do
        sleep 0.2
    done
    if kill -0 "$DOCKERD_PID" 2>/dev/null; then
        log "dockerd (pid $DOCKERD_PID) did not stop within 60 s; killing it"
        kill -KILL "$DOCKERD_PID" 2>/dev/null || true
    fi
    wait "$DOCKERD_PID" 2>/dev/null || true
    log "dockerd (pid $DOCKERD_PID) stopped in $(since "$t0")"
    DOCKERD_PID=""
}

remove_rootfs() {
    [[ -n $ROOTFS && -d $ROOTFS ]] || return 0
    # A failed debootstrap can leave proc/sys mounted inside; never delete through them.
    local mnt
    while read -r mnt; do
        umount -l "$mnt" 2>/dev/null || true
    done < <(findmnt -rn -o TARGET | grep -F "$ROOTFS/" | sort -r)
    rm -rf --one-file-system "$ROOTFS"
    ROOTFS=""
}

cleanup() {
    remove_rootfs || true
    stop_dockerd || true
}

# The Debian mirror this machine's apt already uses (deb822 first, then the legacy format).
debian_mirror() {
    local uri=""
    if [[ -n ${DR_ONNX_DEBIAN_MIRROR:-} ]]; then
        uri=$DR_ONNX_DEBIAN_MIRROR
    elif [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
        uri=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources)
    fi
    if [[ -z $uri && -f /etc/apt/sources.list ]]; then
        uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z+]+:\/\//) { print $i; exit } }' \
            /etc/apt/sources.list)
    fi
    [[ -n $uri ]] || die "no Debian mirror found in the apt configuration; set DR_ONNX_DEBIAN_MIRROR"
    printf '%s\n' "$uri"
}

# Package traffic may pass through a TLS proxy whose CA only the host trusts.
trust_host_cas() {
    local crt
    for crt in /usr/local/share/ca-certificates/*.crt; do
        [[ -e $crt ]] || continue
        cp "$crt" "$ROOTFS/usr/local/share/ca-certificates/"
    done
    # Quiet on success: it always warns about the bundle file while rehashing.
    local out
    out=$(chroot "$ROOTFS" update-ca-certificates 2>&1) || { printf '%s\n' "$out" >&2; die "update-ca-certificates failed"; }
    printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$ROOTFS/etc/pip.conf"
    rm -f "$ROOTFS"/usr/lib/python3*/EXTERNALLY-MANAGED
}

make_base_image() {
    if "$DOCKER_BIN" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
        log "base image $BASE_IMAGE already exists"
        return 0
    fi
    local t0 mirror; t0=$(now)
    mirror=$(debian_mirror)
    ROOTFS=$(mktemp -d /var/tmp/dr-onnx-rootfs.XXXXXX)
    log "debootstrapping $SUITE from $mirror into $ROOTFS"
    debootstrap --variant=minbase --include="$BASE_PACKAGES" "$SUITE" "$ROOTFS" "$mirror" \
        </dev/null >"$ROOTFS.debootstrap.log" 2>&1 \
        || { tail -n 20 "$ROOTFS.debootstrap.log" >&2; die "debootstrap failed (log: $ROOTFS.debootstrap.log)"; }
    rm -f "$ROOTFS.debootstrap.log"
    log "debootstrap done in $(since "$t0")"

    trust_host_cas
    rm -f "$ROOTFS"/var/cache/apt/archives/*.deb
    rm -rf "$ROOTFS"/var/lib/apt/lists/*

    local t1; t1=$(now)
    tar -C "$ROOTFS" -c . | "$DOCKER_BIN" import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        - "$BASE_IMAGE" >/dev/null
    log "imported $BASE_IMAGE in $(since "$t1") (total $(since "$t0"))"
    remove_rootfs
}

build_app_image() {
    [[ -f $REPO_ROOT/Dockerfile ]] || die "no Dockerfile in $REPO_ROOT"
    local t0; t0=$(now)
    log "building $APP_IMAGE from $REPO_ROOT/Dockerfile"
    # Called in an `||` list, where set -e does not apply: fail explicitly.
    "$DOCKER_BIN" build --build-arg BASE_IMAGE="$DR_ONNX_BASE_IMAGE" -t "$APP_IMAGE" "$REPO_ROOT" || return
    log "built $APP_IMAGE in $(since "$t0")"
    cat >&2 <<EOF
[with-docker] $APP_IMAGE is in the engine under $DATA_ROOT. Serve the bundled example with:
  .ci/with-docker.sh $DOCKER_BIN run --rm -p 127.0.0.1:8080:8080 -v "\$PWD/example/model:/opt/code:ro" \\
      -e TARGET_TYPE=binary -e POSITIVE_CLASS_LABEL=virginica -e NEGATIVE_CLASS_LABEL=versicolor $APP_IMAGE
  curl -s -X POST -H 'Content-Type: text/csv' --data-binary @example/input.csv http://127.0.0.1:8080/predict/
EOF
}

main() {
    [[ $(id -u) -eq 0 ]] || die "must run as root (installs packages, starts dockerd)"
    local t0; t0=$(now)
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    install_packages
    start_dockerd
    make_base_image

    export DOCKER=$DOCKER_BIN DR_ONNX_BASE_IMAGE=$BASE_IMAGE REQUIRE_DOCKER=1 DOCKER_BUILDKIT=0
    log "ready in $(since "$t0")"

    local status=0
    if (($#)); then
        log "running:$(printf ' %q' "$@")"
        "$@" || status=$?
    else
        build_app_image || status=$?
    fi
    log "finished with status $status after $(since "$t0")"
    return "$status"
}

main "$@"
