#!/usr/bin/env python3
"""Writes the sealed_header fuzz seeds (see README.md) into this directory.

Each seed is a sealed object header encoded as docs/sealed-format.md
describes it, written here independently of storage/sealed, followed by the
layout input sealed_header_fuzz.cc reads after the header: u64 stream size,
u64 range start, u64 range end, then u32 segment sizes (all big-endian).
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
TAG = 16
NONCE_PREFIX = 7


def wrapped_key(key_id, version, secret_len=32, fill=0xAB):
    # KMS ciphertext "SRC1": magic, format 1, algorithm 1, id length, id,
    # u32 version, 12-byte nonce, the wrapped secret, 16-byte tag.
    ident = key_id.encode()
    return (b"SRC1" + bytes([1, 1, len(ident)]) + ident + struct.pack(">I", version) +
            bytes([fill]) * (12 + secret_len + TAG))


def header(hash_id, dks, segment, key_id, key_version, dataset, name, version):
    key_name = ("keys/" + key_id).encode()
    wrapped = wrapped_key(key_id, key_version)
    stream_header = bytes([1 + dks + NONCE_PREFIX]) + bytes(range(1, dks + NONCE_PREFIX + 1))
    body = (bytes([hash_id, dks]) + struct.pack(">I", segment) +
            bytes([len(key_name)]) + key_name + struct.pack(">I", key_version) +
            struct.pack(">H", len(wrapped)) + wrapped +
            bytes([len(dataset)]) + dataset.encode() +
            struct.pack(">H", len(name)) + name.encode() +
            struct.pack(">Q", version) + stream_header)
    size = 8 + len(body)
    return b"SRSO" + bytes([1, 0]) + struct.pack(">H", size) + body


def layout(stream_bytes, start, end, segments):
    return struct.pack(">QQQ", stream_bytes, start, end) + b"".join(
        struct.pack(">I", s) for s in segments)


def stream_header_size(dks):
    return 1 + dks + NONCE_PREFIX


def seeds():
    # One short segment under the default parameters (SHA-256, 32, 1 MiB).
    h = stream_header_size(32)
    yield "sha256_dks32_seg1m_short.bin", header(
        2, 32, 1 << 20, "k1", 3, "ds1", "models/a.onnx", 1) + layout(
            h + 100, 0, 84, [100])
    # 4 KiB segments, AES-128: three full segments and a short last one.
    h = stream_header_size(16)
    first = 4096 - h
    yield "sha256_dks16_seg4k_multi.bin", header(
        2, 16, 4096, "data-key", 7, "train_2026", "shards/0001.bin", 42) + layout(
            h + first + 2 * 4096 + 500, 4000, 9000, [first, 4096, 4096, 500])
    # 64 KiB segments, SHA-512: a range that runs to the end; the stream ends
    # on a full segment.
    h = stream_header_size(32)
    first = 65536 - h
    yield "sha512_dks32_seg64k_range_end.bin", header(
        3, 32, 65536, "kek-512", 1, "eval", "x", 2**63 - 1) + layout(
            h + first + 65536, 70000, 2**64 - 1, [first, 65536])
    # SHA-1 HKDF, 1 KiB segments, long names (63-byte ids, a 300-byte name).
    h = stream_header_size(16)
    long_id = "k" + "0123456789" * 6 + "ab"
    name = "/".join(["d" * 49] * 6)
    yield "sha1_dks16_seg1k_long_names.bin", header(
        1, 16, 1024, long_id, 0xFFFFFFFF, "a" * 63, name, 9) + layout(
            h + 1024 - h + 16, 0, 0, [1024 - h, 16, 16])


for file_name, data in seeds():
    with open(os.path.join(HERE, file_name), "wb") as f:
        f.write(data)
