#!/usr/bin/env python3
"""Parity fixtures: one MODEL.md training iteration of the DCGAN in PyTorch.

For each case below, writes `parity_<name>.safetensors` in MODEL.md's parity
fixture format: the state dicts before (`init.*`), the inputs (`input.real`,
`input.noise`), the gradients before each optimizer step (`grad.*`), the
state dicts after (`expect.*`) and the six metrics (`expect.<metric>`, shape
[1]), with the sizes and hyperparameters as string metadata. See README.md.

Usage: python tools/pytorch/parity.py [OUTPUT_DIR]
OUTPUT_DIR defaults to crates/gan/tests/fixtures under the repository root.
"""

import sys
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dcgan  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT_DIR = REPO_ROOT / "crates/gan/tests/fixtures"

# name: (nz, ngf, ndf, batch, seed). Small enough for a software adapter and
# for files well under 1 MB; ngf != ndf in two cases so swapped sizes show.
CASES = {
    "small": (8, 4, 4, 4, 1),
    "medium": (16, 8, 6, 8, 2),
    "wide": (32, 8, 12, 16, 3),
}

METRICS = ("loss_d_real", "loss_d_fake", "loss_g", "d_x", "d_g_z1", "d_g_z2")
NETS = (("generator", dcgan.GENERATOR_PREFIX), ("discriminator", dcgan.DISCRIMINATOR_PREFIX))


def fixture(nz, ngf, ndf, batch, seed, loss="bce"):
    """(tensors, metadata) of one iteration. One torch.Generator seeded with
    `seed` draws G's init, D's init, `input.real` (uniform in [-1, 1)) and
    `input.noise` (standard normal), in that order."""
    gen = torch.Generator().manual_seed(seed)
    netG, netD = dcgan.build(nz, ngf, ndf, dcgan.NC, generator=gen)
    real = torch.rand(batch, dcgan.NC, dcgan.IMAGE_SIZE, dcgan.IMAGE_SIZE, generator=gen) * 2 - 1
    noise = torch.randn(batch, nz, 1, 1, generator=gen)
    nets = {"generator": netG, "discriminator": netD}

    out = {}
    for net, _ in NETS:
        out.update(dcgan.prefixed_state(f"init.{net}.", nets[net]))
    out["input.real"] = real.clone()
    out["input.noise"] = noise.clone()

    optG, optD = dcgan.adam(netG), dcgan.adam(netD)
    grads = {}
    metrics = dcgan.train_step(netG, netD, optG, optD, real, noise, loss=loss, capture=grads)

    for net, _ in NETS:
        for name, g in grads[net].items():
            out[f"grad.{net}.{name}"] = g.contiguous()
        out.update(dcgan.prefixed_state(f"expect.{net}.", nets[net]))
    for m in METRICS:
        out[f"expect.{m}"] = torch.tensor([metrics[m]], dtype=torch.float32)

    metadata = {
        "nz": nz, "ngf": ngf, "ndf": ndf, "nc": dcgan.NC, "batch": batch,
        "lr": dcgan.LR, "beta1": dcgan.BETA1, "beta2": dcgan.BETA2, "eps": dcgan.ADAM_EPS,
        "seed": seed, "loss": loss, "torch": torch.__version__,
        "generator": "tools/pytorch/parity.py",
    }
    check(out, nets)
    return out, {k: str(v) for k, v in metadata.items()}


def check(out, nets):
    """Consistency of the captured values with what the step did."""
    for net, module in nets.items():
        for name, p in module.named_parameters():
            before = out[f"init.{net}.{name}"]
            g = out[f"grad.{net}.{name}"]
            # Adam's first step with bias correction: p -= lr * g / (|g| + eps).
            want = before - dcgan.LR * g / (g.abs() + dcgan.ADAM_EPS)
            assert torch.allclose(out[f"expect.{net}.{name}"], want, rtol=0, atol=1e-6), (net, name)
        for name, b in module.named_buffers():
            if name.endswith("num_batches_tracked"):
                assert b.dtype == torch.int64, name
                # G runs forward once, D three times (real, fake, G step).
                assert b.item() == (1 if net == "generator" else 3), (net, name, b)
    for name, t in out.items():
        assert t.is_contiguous(), name
        assert t.dtype == (torch.int64 if name.endswith("num_batches_tracked") else torch.float32), name
        assert torch.isfinite(t.double()).all(), name


def main(argv):
    if len(argv) > 2:
        sys.exit(f"usage: {argv[0]} [OUTPUT_DIR]")
    out_dir = Path(argv[1]) if len(argv) == 2 else DEFAULT_OUTPUT_DIR

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.set_default_dtype(torch.float32)

    out_dir.mkdir(parents=True, exist_ok=True)
    for name, (nz, ngf, ndf, batch, seed) in CASES.items():
        tensors, metadata = fixture(nz, ngf, ndf, batch, seed)
        path = out_dir / f"parity_{name}.safetensors"
        save_file(tensors, str(path), metadata=metadata)

        with safe_open(str(path), framework="pt") as f:
            assert f.metadata() == metadata
            assert set(f.keys()) == set(tensors)
            for k in f.keys():
                assert torch.equal(f.get_tensor(k), tensors[k]), k
        metrics = " ".join(f"{m}={tensors['expect.' + m].item():.6f}" for m in METRICS)
        print(f"{path.name}: nz={nz} ngf={ngf} ndf={ndf} batch={batch} seed={seed}; "
              f"{len(tensors)} tensors, {path.stat().st_size} bytes")
        print(f"  {metrics}")
    print(f"torch {torch.__version__}; fixtures in {out_dir}")


if __name__ == "__main__":
    main(sys.argv)
