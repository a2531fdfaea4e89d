#!/usr/bin/env bash
# Records real HTTP/1.1 responses of Debian's docker-registry (the CNCF
# distribution registry) for the rw_httpresp tests.
#
# Everything runs inside a throwaway network namespace (loopback only):
# the registry on 127.0.0.1:5000 with a temporary storage dir, a recording
# relay on 127.0.0.1:5001, and skopeo/curl as clients talking to the relay.
# Per client connection the relay writes NNN.req (client -> registry bytes)
# and NNN.resp (registry -> client bytes) into the output directory. The
# test walks NNN.req with the request parser to learn each method (HEAD ->
# no body), then frames NNN.resp response by response.
#
# usage (root): tests/data/httpresp/capture.sh [outdir]   (default: this dir)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
ns=rwresp$$
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up

cat >"$tmp/config.yml" <<CFG
version: 0.1
storage:
  filesystem:
    rootdirectory: $tmp/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:5000
CFG
ip netns exec "$ns" docker-registry serve "$tmp/config.yml" >"$tmp/registry.log" 2>&1 &
pids+=($!)

cat >"$tmp/relay.py" <<'PY'
import os, socket, sys, threading
out = sys.argv[1]
n = [0]
lock = threading.Lock()
def pump(src, dst, f):
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            f.write(b); f.flush()
            dst.sendall(b)
    except OSError:
        pass
    finally:
        try: dst.shutdown(socket.SHUT_WR)
        except OSError: pass
def serve(c):
    with lock:
        n[0] += 1; i = n[0]
    u = socket.create_connection(("127.0.0.1", 5000))
    fq = open(os.path.join(out, "%03d.req" % i), "wb")
    fs = open(os.path.join(out, "%03d.resp" % i), "wb")
    t = threading.Thread(target=pump, args=(c, u, fq)); t.start()
    pump(u, c, fs); t.join()
    fq.close(); fs.close(); c.close(); u.close()
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", 5001)); l.listen(16)
while True:
    c, _ = l.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
mkdir -p "$tmp/rec"
ip netns exec "$ns" python3 "$tmp/relay.py" "$tmp/rec" &
pids+=($!)
for _ in $(seq 50); do
  ip netns exec "$ns" bash -c 'exec 3<>/dev/tcp/127.0.0.1/5000' 2>/dev/null && \
  ip netns exec "$ns" bash -c 'exec 3<>/dev/tcp/127.0.0.1/5001' 2>/dev/null && break
  sleep 0.2
done

# A small OCI image layout made here (no network): one layer, a config.
python3 - "$tmp/img" <<'PY'
import hashlib, io, json, os, sys, tarfile
d = sys.argv[1]
os.makedirs(d + "/blobs/sha256")
def put(b):
    h = hashlib.sha256(b).hexdigest()
    open(d + "/blobs/sha256/" + h, "wb").write(b)
    return "sha256:" + h, len(b)
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w") as t:
    data = b"hello from regwall\n" * 200
    ti = tarfile.TarInfo("hello.txt"); ti.size = len(data); ti.mtime = 0
    t.addfile(ti, io.BytesIO(data))
layer, lsz = put(buf.getvalue())
cfg = {"architecture": "amd64", "os": "linux",
       "rootfs": {"type": "layers", "diff_ids": [layer]}, "config": {}}
cd, csz = put(json.dumps(cfg).encode())
man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
       "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": csz},
       "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": lsz}]}
md, msz = put(json.dumps(man).encode())
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": man["mediaType"], "digest": md,
          "size": msz, "annotations": {"org.opencontainers.image.ref.name": "v1"}}]},
          open(d + "/index.json", "w"))
open(d + "/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
PY

R=127.0.0.1:5001
X="ip netns exec $ns"
$X skopeo copy --dest-tls-verify=false "oci:$tmp/img:v1" "docker://$R/team-a/app:v1"
$X skopeo copy --src-tls-verify=false "docker://$R/team-a/app:v1" "dir:$tmp/pulled"
$X skopeo inspect --tls-verify=false "docker://$R/team-a/app:v1" >/dev/null
$X skopeo list-tags --tls-verify=false "docker://$R/team-a/app" >/dev/null
# curl: errors, HEAD, catalog, keep-alive with several requests on one connection
$X curl -s -o /dev/null "http://$R/v2/" "http://$R/v2/_catalog" \
   "http://$R/v2/team-a/app/manifests/nope" "http://$R/v2/Bad_Name/tags/list" \
   "http://$R/v2/team-a/app/blobs/sha256:0000000000000000000000000000000000000000000000000000000000000000"
$X curl -s -o /dev/null -I "http://$R/v2/team-a/app/manifests/v1" \
   -H "Accept: application/vnd.oci.image.manifest.v1+json"
$X curl -s -o /dev/null -X DELETE "http://$R/v2/team-a/app/manifests/v1"
$X curl -s -o /dev/null -X POST "http://$R/v2/team-a/other/blobs/uploads/"
$X curl -s -o /dev/null -H "Connection: close" "http://$R/v2/team-a/app/tags/list"
sleep 0.5

rm -f "$out"/[0-9][0-9][0-9].req "$out"/[0-9][0-9][0-9].resp
# drop the relay readiness probes (connections that carried nothing)
for f in "$tmp"/rec/*.req; do [ -s "$f" ] || rm -f "$f" "${f%.req}.resp"; done
cp "$tmp"/rec/* "$out"/
ls -l "$out"
