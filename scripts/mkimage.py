#!/usr/bin/env python3
"""Write a small, valid OCI image layout for tests and the demo.

usage: mkimage.py OUT_DIR [LAYER_BYTES] [SEED] [TAG]

The single layer is an uncompressed tar holding one file of LAYER_BYTES
pseudo-random bytes (deterministic for a seed), so a test can push an image
of a chosen size with skopeo (oci:OUT_DIR:TAG -> docker://...) and compare
digests after pulling it back. Streams the layer to disk: 1 GiB is fine.
"""
import hashlib
import io
import json
import os
import random
import sys
import tarfile


def blob_path(out, digest):
    return os.path.join(out, "blobs", "sha256", digest.split(":", 1)[1])


def put_bytes(out, data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    with open(blob_path(out, d), "wb") as f:
        f.write(data)
    return d, len(data)


def write_layer(out, size, seed):
    tmp = os.path.join(out, "blobs", "sha256", ".layer.tmp")
    rnd = random.Random(seed)
    info = tarfile.TarInfo("data.bin")
    info.size = size
    info.mtime = 0
    info.mode = 0o644
    header = info.tobuf(format=tarfile.USTAR_FORMAT)
    h = hashlib.sha256()
    total = 0
    with open(tmp, "wb") as f:
        def emit(b):
            nonlocal total
            f.write(b)
            h.update(b)
            total += len(b)
        emit(header)
        left = size
        while left > 0:
            n = min(left, 1 << 20)
            emit(rnd.randbytes(n))
            left -= n
        pad = (512 - size % 512) % 512
        emit(b"\0" * (pad + 1024))  # file padding + two zero end blocks
    digest = "sha256:" + h.hexdigest()
    os.replace(tmp, blob_path(out, digest))
    return digest, total


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 4096
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    tag = sys.argv[4] if len(sys.argv) > 4 else "latest"
    os.makedirs(os.path.join(out, "blobs", "sha256"), exist_ok=True)
    layer, layer_size = write_layer(out, size, seed)
    config = {
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [layer]},
    }
    cfg, cfg_size = put_bytes(out, json.dumps(config, sort_keys=True).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": cfg, "size": cfg_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer, "size": layer_size}],
    }
    man, man_size = put_bytes(out, json.dumps(manifest, sort_keys=True).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": man, "size": man_size,
                       "annotations": {"org.opencontainers.image.ref.name": tag}}],
    }
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    print(man)
    return 0


if __name__ == "__main__":
    sys.exit(main())
