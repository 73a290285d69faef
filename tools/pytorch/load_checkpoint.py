#!/usr/bin/env python3
"""Load a webgan checkpoint into the PyTorch DCGAN and draw an 8x8 sample grid.

The checkpoint is MODEL.md's safetensors file: `generator.main.N.*` and
`discriminator.main.N.*` hold the two state dicts (other prefixes, such as
optimizer state, are ignored here). The sizes nz, ngf, ndf, nc come from the
file's metadata where present, else from the weight shapes. Both networks are
loaded with `load_state_dict(strict=True)`.

Usage: python tools/pytorch/load_checkpoint.py CHECKPOINT [OUTPUT_PNG]
           [--seed N] [--batch-stats]
       python tools/pytorch/load_checkpoint.py --self-test
OUTPUT_PNG defaults to CHECKPOINT with the suffix `.grid.png`. The 64 samples
come from G in eval mode (BatchNorm running statistics) unless --batch-stats
asks for train-mode normalisation (the samples' own statistics; the running
statistics are left as loaded).

--self-test checks the round trip instead: it trains the PyTorch modules for
two iterations, writes them with `dcgan.save_checkpoint` (once with the size
metadata, once without, both with an extra non-network tensor), loads each
back the way a webgan checkpoint is loaded, compares every tensor, and
decodes the grid PNG it writes.
"""

import argparse
import copy
import struct
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dcgan  # noqa: E402

GRID = 8
PAD = 2


def describe(prefix, module):
    state = module.state_dict()
    params = sum(p.numel() for p in module.parameters())
    print(f"{prefix}: {len(state)} tensors, {params} parameters")
    for k, v in state.items():
        extra = f" = {v.item()}" if k.endswith("num_batches_tracked") else ""
        print(f"  {prefix}.{k} {list(v.shape)} {str(v.dtype).replace('torch.', '')}{extra}")


def sample(netG, seed, batch_stats=False):
    """GRID*GRID images from noise seeded with `seed`; eval mode, or with
    `batch_stats` train-mode normalisation on a copy (running stats untouched)."""
    noise = torch.randn(GRID * GRID, netG.nz, 1, 1, generator=torch.Generator().manual_seed(seed))
    net = copy.deepcopy(netG)
    if batch_stats:
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.track_running_stats = False
                m.running_mean = m.running_var = None
    net.train(batch_stats)
    with torch.no_grad():
        return net(noise)


def grid_pixels(images, grid=GRID, pad=PAD):
    """[grid*grid, C, H, W] in [-1, 1] -> uint8 [rows, cols, C] with `pad`
    black pixels around and between the tiles."""
    n, c, h, w = images.shape
    assert n == grid * grid
    out = np.zeros((pad + grid * (h + pad), pad + grid * (w + pad), c), dtype=np.uint8)
    px = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    for i in range(n):
        r, col = divmod(i, grid)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        out[y:y + h, x:x + w] = px[i]
    return out


def write_png(path, pixels):
    """8-bit grayscale (1 channel) or RGB (3 channels) PNG; PIL if it is
    installed, else a minimal writer with zlib."""
    height, width, channels = pixels.shape
    try:
        from PIL import Image
    except ImportError:
        Image = None
    if Image is not None:
        Image.fromarray(pixels[:, :, 0] if channels == 1 else pixels).save(path)
        return
    color_type = {1: 0, 3: 2}[channels]

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + pixels[y].tobytes() for y in range(height))  # filter 0 per row
    png = (b"\x89PNG\r\n\x1a\n"
           + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 9))
           + chunk(b"IEND", b""))
    Path(path).write_bytes(png)


def read_png_gray(path):
    """Decode a PNG written by `write_png`'s own writer (8-bit grayscale,
    filter 0, one IDAT) into uint8 [rows, cols]."""
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, size = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        if kind == b"IHDR":
            size = struct.unpack(">IIBBBBB", body)
            assert size[2:] == (8, 0, 0, 0, 0), size
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height = size[0], size[1]
    rows = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, width + 1)
    assert (rows[:, 0] == 0).all()
    return rows[:, 1:]


def self_test():
    nz, ngf, ndf, batch = 12, 6, 5, 8
    gen = torch.Generator().manual_seed(7)
    netG, netD = dcgan.build(nz, ngf, ndf, generator=gen)
    optG, optD = dcgan.adam(netG), dcgan.adam(netD)
    for _ in range(2):
        real = torch.rand(batch, 1, 28, 28, generator=gen) * 2 - 1
        noise = torch.randn(batch, nz, 1, 1, generator=gen)
        dcgan.train_step(netG, netD, optG, optD, real, noise)
    want = {**dcgan.prefixed_state(dcgan.GENERATOR_PREFIX, netG),
            **dcgan.prefixed_state(dcgan.DISCRIMINATOR_PREFIX, netD)}
    assert want["generator.main.1.num_batches_tracked"].dtype == torch.int64

    from safetensors.torch import load_file, save_file
    with tempfile.TemporaryDirectory() as tmp:
        with_meta = Path(tmp) / "with_meta.safetensors"
        dcgan.save_checkpoint(with_meta, netG, netD, {"step": 2})
        # Without metadata, plus a tensor under another prefix that loading skips.
        bare = Path(tmp) / "bare.safetensors"
        extra = {"optimizer.generator.step": torch.tensor([2], dtype=torch.int64)}
        save_file({**load_file(str(with_meta)), **extra}, str(bare))

        for path, batch_stats in ((with_meta, False), (bare, True)):
            written = load_file(str(path))
            assert set(written) == set(want) | (set(extra) if path == bare else set()), path
            main(["load_checkpoint.py", str(path), str(path.with_suffix(".png")), "--seed", "3"]
                 + (["--batch-stats"] if batch_stats else []))
            g, d, sizes, _ = dcgan.load_checkpoint(path)
            assert sizes == (nz, ngf, ndf, 1), sizes
            got = {**dcgan.prefixed_state(dcgan.GENERATOR_PREFIX, g),
                   **dcgan.prefixed_state(dcgan.DISCRIMINATOR_PREFIX, d)}
            assert got.keys() == want.keys()
            for k in want:
                assert got[k].dtype == want[k].dtype and torch.equal(got[k], want[k]), k
            pixels = read_png_gray(path.with_suffix(".png"))
            side = PAD + GRID * (28 + PAD)
            assert pixels.shape == (side, side), pixels.shape
            assert (pixels == grid_pixels(sample(netG, 3, batch_stats))[:, :, 0]).all()
            if batch_stats:  # the untrained G's eval-mode output is all but flat
                assert pixels[PAD:PAD + 28, PAD:PAD + 28].std() > 5
    print("self-test passed: both checkpoints round-trip exactly; the grid PNG decodes")


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog="load_checkpoint.py --self-test (alone) checks the save/load round trip instead.")
    ap.add_argument("checkpoint")
    ap.add_argument("output", nargs="?", help="PNG path (default: CHECKPOINT.grid.png)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the 64 noise vectors")
    ap.add_argument("--batch-stats", action="store_true",
                    help="normalise with the samples' batch statistics (train mode)")
    args = ap.parse_args(argv[1:])

    netG, netD, (nz, ngf, ndf, nc), metadata = dcgan.load_checkpoint(args.checkpoint)
    print(f"{args.checkpoint}: nz={nz} ngf={ngf} ndf={ndf} nc={nc} "
          f"(loaded with strict=True)")
    if metadata:
        print("metadata: " + ", ".join(f"{k}={v}" for k, v in sorted(metadata.items())))
    describe("generator", netG)
    describe("discriminator", netD)

    images = sample(netG, args.seed, args.batch_stats)
    output = args.output or str(Path(args.checkpoint).with_suffix(".grid.png"))
    write_png(output, grid_pixels(images))
    mode = "batch statistics" if args.batch_stats else "running statistics"
    print(f"wrote {output}: {GRID}x{GRID} samples ({mode}), "
          f"values in [{images.min().item():.3f}, {images.max().item():.3f}]")


if __name__ == "__main__":
    main(sys.argv)
