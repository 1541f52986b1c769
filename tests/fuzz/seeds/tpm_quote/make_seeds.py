#!/usr/bin/env python3
"""Writes the tpm_quote fuzz seeds that are JSON quote bundles.

usage: make_seeds.py VECTORS_DIR   (shared/vectors)

The bundles are docs/attestation-tpm.md's "strongroom-tpm-quote/1" JSON
(compact, keys sorted, as BuildTpmQuoteBundle writes it) around the recorded
swtpm quotes in VECTORS_DIR/tpm/swtpm, so the fuzzer starts from input that
reaches TpmVerifier::Verify's AK, signature and cache code rather than
having to discover the JSON shape.
"""
import base64
import json
import os
import sys

vectors = sys.argv[1]
swtpm = os.path.join(vectors, "tpm", "swtpm")
here = os.path.dirname(os.path.abspath(__file__))


def read(name):
    with open(os.path.join(swtpm, name), "rb") as f:
        return f.read()


def b64(data):
    return base64.b64encode(data).decode()


pcrs = {}
for line in read("pcrs_sha256.txt").decode().splitlines():
    line = line.strip()
    if line and not line.startswith("#"):
        index, value = line.split()
        pcrs[str(int(index))] = value.lower()

for alg in ("ecc", "rsa"):
    bundle = {
        "format": "strongroom-tpm-quote/1",
        "quote": b64(read("quote_%s.attest" % alg)),
        "signature": b64(read("quote_%s.sig" % alg)),
        "pcrs": {"sha256": pcrs},
        "ak_public": b64(read("ak_%s.pub" % alg)),
        "ek_public": b64(read("ek.pub")),
    }
    with open(os.path.join(here, "bundle_%s.json" % alg), "w") as f:
        f.write(json.dumps(bundle, sort_keys=True, separators=(",", ":")))
