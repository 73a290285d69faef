#!/usr/bin/env python3
"""Time MODEL.md's training iteration with PyTorch on the CPU, per preset.

For each preset (tiny, standard, large) it runs `dcgan.train_step` on a fixed
random batch: --warmup iterations untimed, then --iterations timed ones, and
prints the median milliseconds per iteration and GFLOP/s of the convolution
work (counting rule printed above the results; see `conv_flops`).

Usage: python tools/pytorch/bench_cpu.py [--threads 2] [--iterations 20]
           [--warmup 3] [--preset NAME ...] [--config WIDTH:BATCH ...]

--config times the TensorFlow.js peer's sizes (../shared/bench/tfjs): nz 64,
ngf = ndf = WIDTH, batch BATCH, e.g. --config 16:32 --config 32:64.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dcgan  # noqa: E402

RULE = ("FLOPs: 2 per multiply-add of each conv/convT layer, all taps of the "
        "kernel counted (padding included), BatchNorm/activations/loss/Adam not "
        "counted. Per iteration: forward passes D(real), G(z), D(fake), D(fake) "
        "again in the G step; each backward counts its weight gradient (same "
        "work as the forward) and its input gradient (likewise), leaving out "
        "what the iteration does not need: D's first-layer input gradient in "
        "the D step's two passes, G's first-layer input gradient, and D's "
        "weight gradients in the G step (D is not stepped there; PyTorch "
        "computes them anyway, see the 'extra' column).")


def layer_macs(nz, ngf, ndf, batch, nc=dcgan.NC):
    """Multiply-adds of each conv layer's forward, (G's list, D's list), in
    layer order. Conv2d: N*C_out*H_out*W_out*C_in*K*K; ConvTranspose2d: the
    same for the conv it transposes, N*C_in*H_in*W_in*C_out*K*K."""
    g = [  # (C_in, C_out, H_in * W_in, K)
        (nz, 4 * ngf, 1 * 1, 4),
        (4 * ngf, 2 * ngf, 4 * 4, 3),
        (2 * ngf, ngf, 7 * 7, 4),
        (ngf, nc, 14 * 14, 4),
    ]
    d = [  # (C_in, C_out, H_out * W_out, K)
        (nc, ndf, 14 * 14, 4),
        (ndf, 2 * ndf, 7 * 7, 4),
        (2 * ndf, 4 * ndf, 4 * 4, 3),
        (4 * ndf, 1, 1 * 1, 4),
    ]
    macs = lambda layers: [batch * cin * cout * hw * k * k for cin, cout, hw, k in layers]
    return macs(g), macs(d)


def conv_flops(nz, ngf, ndf, batch):
    """(counted FLOPs per iteration per RULE, FLOPs of D's weight gradients in
    the G step, which PyTorch also computes)."""
    g, d = layer_macs(nz, ngf, ndf, batch)
    fg, fd = sum(g), sum(d)
    d_step_pass = fd + fd + (fd - d[0])    # forward, weight grads, input grads but layer 0
    g_step = fd + fd + fg + (fg - g[0])    # D forward, D input grads, G weight grads, G input grads but layer 0
    macs = 2 * d_step_pass + fg + g_step   # real pass, fake pass, G forward, G step
    return 2 * macs, 2 * fd


def bench(name, sizes, iterations, warmup):
    nz, ngf, ndf, batch = sizes
    gen = torch.Generator().manual_seed(0)
    netG, netD = dcgan.build(nz, ngf, ndf, generator=gen)
    optG, optD = dcgan.adam(netG), dcgan.adam(netD)
    real = torch.rand(batch, dcgan.NC, dcgan.IMAGE_SIZE, dcgan.IMAGE_SIZE, generator=gen) * 2 - 1
    noise = torch.randn(batch, nz, 1, 1, generator=gen)
    for _ in range(warmup):
        dcgan.train_step(netG, netD, optG, optD, real, noise)
    times = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        dcgan.train_step(netG, netD, optG, optD, real, noise)
        times.append(time.perf_counter() - t0)
    ms = statistics.median(times) * 1e3
    flops, extra = conv_flops(nz, ngf, ndf, batch)
    print(f"{name:<8} nz={nz:<3} ngf={ngf:<2} ndf={ndf:<2} batch={batch:<3} "
          f"{ms:8.2f} ms/iter (median of {iterations}, min {min(times) * 1e3:.2f}) "
          f"{flops / 1e9:7.3f} GFLOP/iter {flops / (ms * 1e6):6.1f} GFLOP/s "
          f"(extra {extra / 1e9:.3f} GFLOP/iter not counted)", flush=True)


def peer_config(text):
    """WIDTH:BATCH as (name, (nz 64, WIDTH, WIDTH, BATCH))."""
    try:
        width, batch = (int(v) for v in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTH:BATCH such as 16:32, got {text!r}")
    if width < 1 or batch < 2:
        raise argparse.ArgumentTypeError(f"WIDTH must be at least 1 and BATCH at least 2: {text!r}")
    return (text, (64, width, width, batch))


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    ap.add_argument("--iterations", type=int, default=20, help="timed iterations (default 20)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed iterations first (default 3)")
    ap.add_argument("--preset", action="append", choices=list(dcgan.PRESETS),
                    help="run only this preset (repeatable; default all)")
    ap.add_argument("--config", action="append", type=peer_config, default=[],
                    help="WIDTH:BATCH, the TensorFlow.js peer's sizes: nz 64, "
                         "ngf = ndf = WIDTH (repeatable)")
    args = ap.parse_args(argv[1:])
    if args.iterations < 1 or args.threads < 1 or args.warmup < 0:
        ap.error("--iterations and --threads must be at least 1, --warmup at least 0")

    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{args.warmup} warm-up + {args.iterations} timed iterations per preset")
    print(RULE)
    runs = [(name, dcgan.PRESETS[name]) for name in args.preset or []]
    runs += args.config
    if not runs:
        runs = [(name, sizes) for name, sizes in dcgan.PRESETS.items()]
    for name, sizes in runs:
        bench(name, sizes, args.iterations, args.warmup)


if __name__ == "__main__":
    main(sys.argv)
