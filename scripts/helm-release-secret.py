#!/usr/bin/env python3
"""Prints a Helm 3 release Secret (driver "secret") as YAML, for test fixtures.

usage: helm-release-secret.py RELEASE_JSON_FILE [--status STATUS]

The release JSON is what Helm stores (name, namespace, version, info, chart, config,
manifest); data.release is base64(base64(gzip(JSON))) exactly as Helm and the API write it.
The decoded JSON is echoed as a comment above the Secret so fixtures stay reviewable.
"""
import base64, gzip, json, sys

rel = json.load(open(sys.argv[1]))
status = rel.get("info", {}).get("status", "deployed")
payload = base64.b64encode(base64.b64encode(gzip.compress(json.dumps(rel).encode(), mtime=0))).decode()
name, ns, rev = rel["name"], rel.get("namespace", "default"), rel["version"]
print("# decoded release: " + json.dumps(rel, sort_keys=True).replace("\n", "\\n"))
print(f"""apiVersion: v1
kind: Secret
type: helm.sh/release.v1
metadata:
  name: sh.helm.release.v1.{name}.v{rev}
  namespace: {ns}
  labels: {{name: {name}, owner: helm, status: {status}, version: "{rev}"}}
data:
  release: {payload}""")
