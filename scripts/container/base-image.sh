#!/usr/bin/env bash
# Build a local stand-in for the Bento's base image (python:3.11-slim) on a machine that cannot
# reach Docker Hub but can reach Debian's archive and PyPI.
#
# The image is a Debian bookworm rootfs (debootstrap minbase + python3, venv, pip), which has the
# same Python minor version as python:3.11-slim, with the host's local CA certificates trusted
# (HTTPS may be intercepted) and pip allowed to install into the system interpreter (BentoML's
# Dockerfile runs `pip install uv` as the official image allows).
#
# Usage: scripts/container/base-image.sh            (needs root, debootstrap and podman)
# Env:   HOUSING_BASE_IMAGE  tag to create (default docker.io/library/python:3.11-slim)
#        DEBIAN_MIRROR       archive to bootstrap from (default http://deb.debian.org/debian)
#        CONTAINER_ENGINE    podman (default) or buildah... anything with `import`
#        CONTAINERS_CONF     as for podman (see scripts/container/containers.conf)
set -euo pipefail

image="${HOUSING_BASE_IMAGE:-docker.io/library/python:3.11-slim}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
engine="${CONTAINER_ENGINE:-podman}"

# Debian packages this route needs (podman's runc runtime: crun fails on this cgroup mode).
missing=()
for tool in podman:podman runc:runc debootstrap:debootstrap; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool##*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "base-image: missing ${missing[*]} and not root to install them" >&2
        exit 1
    fi
    echo "base-image: installing ${missing[*]} from Debian"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
        >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
fi

if "$engine" image exists "$image" 2>/dev/null && [ "${FORCE:-0}" != 1 ]; then
    echo "base image $image already exists (FORCE=1 rebuilds it)"
    exit 0
fi

workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT
rootfs="$workdir/rootfs"

echo "bootstrapping Debian bookworm into $rootfs from $mirror"
debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
    bookworm "$rootfs" "$mirror" >"$workdir/debootstrap.log" 2>&1 ||
    { tail -n 30 "$workdir/debootstrap.log"; exit 1; }

# Trust the same extra CAs as the host (HTTPS interception on restricted networks).
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
    chroot "$rootfs" update-ca-certificates >/dev/null
fi
# python:3.11-slim lets pip install into the system interpreter; Debian marks it PEP 668.
rm -f "$rootfs"/usr/lib/python3*/EXTERNALLY-MANAGED
ln -sf /usr/bin/python3 "$rootfs/usr/local/bin/python"
[ -e "$rootfs/usr/bin/pip" ] || ln -sf /usr/bin/pip3 "$rootfs/usr/local/bin/pip"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*

echo "importing as $image"
tar -C "$rootfs" -c . | "$engine" import \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    --change 'CMD ["python3"]' \
    - "$image"
"$engine" image inspect --format '{{.Id}} {{.Size}}' "$image"
