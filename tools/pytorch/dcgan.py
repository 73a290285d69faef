#!/usr/bin/env python3
"""The reference DCGAN of /work/shared/MODEL.md in PyTorch.

The modules, their initialisation, the losses and one training iteration,
exactly as the contract states them, so that `parity.py`, `bench_cpu.py`
and `load_checkpoint.py` share one definition. Also the checkpoint naming
(`generator.main.N.*`, `discriminator.main.N.*`) in both directions.

This file is a library; run the other scripts in this folder.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

NC = 1
IMAGE_SIZE = 28
LR = 2e-4
BETA1 = 0.5
BETA2 = 0.999
ADAM_EPS = 1e-8
BN_EPS = 1e-5
BN_MOMENTUM = 0.1
LEAKY_SLOPE = 0.2

# name: (nz, ngf, ndf, batch)
PRESETS = {
    "tiny": (32, 16, 16, 32),
    "standard": (64, 32, 32, 64),
    "large": (100, 64, 64, 128),
}

LOSSES = ("bce", "minimax", "lsgan")

GENERATOR_PREFIX = "generator."
DISCRIMINATOR_PREFIX = "discriminator."


def _bn(channels):
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class Generator(nn.Module):
    """z [N, nz, 1, 1] -> images [N, nc, 28, 28] in [-1, 1]."""

    def __init__(self, nz, ngf, nc=NC):
        super().__init__()
        self.nz, self.ngf, self.nc = nz, ngf, nc
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, 4 * ngf, 4, 1, 0, bias=False),        # 0: 4x4
            _bn(4 * ngf), nn.ReLU(True),                                # 1, 2
            nn.ConvTranspose2d(4 * ngf, 2 * ngf, 3, 2, 1, bias=False),   # 3: 7x7
            _bn(2 * ngf), nn.ReLU(True),                                # 4, 5
            nn.ConvTranspose2d(2 * ngf, ngf, 4, 2, 1, bias=False),       # 6: 14x14
            _bn(ngf), nn.ReLU(True),                                    # 7, 8
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),            # 9: 28x28
            nn.Tanh(),                                                  # 10
        )

    def forward(self, z):
        return self.main(z)


class Discriminator(nn.Module):
    """images [N, nc, 28, 28] -> logits [N, 1, 1, 1]."""

    def __init__(self, ndf, nc=NC):
        super().__init__()
        self.ndf, self.nc = ndf, nc
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),                     # 0: 14x14
            nn.LeakyReLU(LEAKY_SLOPE, inplace=True),                    # 1
            nn.Conv2d(ndf, 2 * ndf, 4, 2, 1, bias=False),                # 2: 7x7
            _bn(2 * ndf), nn.LeakyReLU(LEAKY_SLOPE, inplace=True),      # 3, 4
            nn.Conv2d(2 * ndf, 4 * ndf, 3, 2, 1, bias=False),            # 5: 4x4
            _bn(4 * ndf), nn.LeakyReLU(LEAKY_SLOPE, inplace=True),      # 6, 7
            nn.Conv2d(4 * ndf, 1, 4, 1, 0, bias=False),                  # 8: 1x1
        )

    def forward(self, x):
        return self.main(x)


@torch.no_grad()
def init_weights(module, generator):
    """MODEL.md's init, drawn in module order from the torch.Generator given:
    conv weights N(0, 0.02); BatchNorm weight N(1, 0.02), bias 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            m.weight.normal_(0.0, 0.02, generator=generator)
        elif isinstance(m, nn.BatchNorm2d):
            m.weight.normal_(1.0, 0.02, generator=generator)
            m.bias.zero_()


def build(nz, ngf, ndf, nc=NC, seed=0, generator=None):
    """Generator and Discriminator initialised from one torch.Generator, G's
    weights first, then D's: `generator` if given (its state advances), else
    a fresh one seeded with `seed`."""
    gen = generator if generator is not None else torch.Generator().manual_seed(seed)
    netG, netD = Generator(nz, ngf, nc), Discriminator(ndf, nc)
    init_weights(netG, gen)
    init_weights(netD, gen)
    return netG, netD


def adam(module, lr=LR):
    return torch.optim.Adam(module.parameters(), lr=lr, betas=(BETA1, BETA2), eps=ADAM_EPS)


# Losses, from logits (bce, minimax) or raw outputs (lsgan), batch means.

def bce(logits, target):
    """mean(max(l, 0) - l*y + log(1 + exp(-|l|))) against a constant target."""
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def mse(out, target):
    return F.mse_loss(out, torch.full_like(out, target))


def d_loss_real(out_real, loss="bce"):
    return mse(out_real, 1.0) if loss == "lsgan" else bce(out_real, 1.0)


def d_loss_fake(out_fake, loss="bce"):
    return mse(out_fake, 0.0) if loss == "lsgan" else bce(out_fake, 0.0)


def g_loss(out, loss="bce"):
    """Non-saturating `bce(out, 1)`; minimax `-bce(out, 0)`; LSGAN `mse(out, 1)`."""
    if loss == "bce":
        return bce(out, 1.0)
    if loss == "minimax":
        return -bce(out, 0.0)
    if loss == "lsgan":
        return mse(out, 1.0)
    raise ValueError(f"unknown loss {loss!r}; expected one of {LOSSES}")


def _grads(module):
    return {name: p.grad.detach().clone() for name, p in module.named_parameters()}


def train_step(netG, netD, optG, optD, real, noise, loss="bce", capture=None):
    """MODEL.md's training iteration, both networks in train mode.

    Returns the metrics as floats: loss_d_real, loss_d_fake, loss_g, d_x,
    d_g_z1, d_g_z2 (the last three are means of sigmoid of D's outputs).
    If `capture` is a dict, it receives copies of the gradients right before
    each optimizer step under `capture["discriminator"]` and
    `capture["generator"]` (dicts keyed by parameter name). D's are taken
    before the G step, whose backward adds to D's .grad again in PyTorch.
    """
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; expected one of {LOSSES}")
    netG.train()
    netD.train()

    # 1. D step: real batch, then the fake batch without gradient into G.
    netD.zero_grad()
    out_real = netD(real)
    loss_d_real = d_loss_real(out_real, loss)
    loss_d_real.backward()
    fake = netG(noise)
    out_fake = netD(fake.detach())
    loss_d_fake = d_loss_fake(out_fake, loss)
    loss_d_fake.backward()
    if capture is not None:
        capture["discriminator"] = _grads(netD)
    optD.step()

    # 2. G step through the updated D; only G is stepped.
    netG.zero_grad()
    out = netD(fake)
    loss_g = g_loss(out, loss)
    loss_g.backward()
    if capture is not None:
        capture["generator"] = _grads(netG)
    optG.step()

    with torch.no_grad():
        return {
            "loss_d_real": loss_d_real.item(),
            "loss_d_fake": loss_d_fake.item(),
            "loss_g": loss_g.item(),
            "d_x": torch.sigmoid(out_real).mean().item(),
            "d_g_z1": torch.sigmoid(out_fake).mean().item(),
            "d_g_z2": torch.sigmoid(out).mean().item(),
        }


# Checkpoints: state dicts with network prefixes, MODEL.md's names.

def prefixed_state(prefix, module):
    """`module.state_dict()` as detached contiguous copies under `prefix`
    (num_batches_tracked stays int64)."""
    return {prefix + k: v.detach().contiguous().clone() for k, v in module.state_dict().items()}


def unprefixed_state(tensors, prefix):
    """The entries of `tensors` whose name starts with `prefix`, prefix removed."""
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def save_checkpoint(path, netG, netD, meta=None):
    """Write both networks' state dicts as one safetensors file with MODEL.md's
    names; `meta` (values made strings) goes to the metadata together with
    the sizes nz, ngf, ndf, nc taken from the modules."""
    from safetensors.torch import save_file

    tensors = prefixed_state(GENERATOR_PREFIX, netG)
    tensors.update(prefixed_state(DISCRIMINATOR_PREFIX, netD))
    metadata = {"nz": netG.nz, "ngf": netG.ngf, "ndf": netD.ndf, "nc": netG.nc}
    metadata.update(meta or {})
    save_file(tensors, str(path), metadata={k: str(v) for k, v in metadata.items()})
    return tensors


def infer_sizes(tensors, metadata=None):
    """(nz, ngf, ndf, nc) from the metadata where present, else from the
    shapes of G's first and last and D's first convolution weights."""
    g0 = tensors[GENERATOR_PREFIX + "main.0.weight"].shape    # [nz, 4ngf, 4, 4]
    g9 = tensors[GENERATOR_PREFIX + "main.9.weight"].shape    # [ngf, nc, 4, 4]
    d0 = tensors[DISCRIMINATOR_PREFIX + "main.0.weight"].shape  # [ndf, nc, 4, 4]
    inferred = {"nz": g0[0], "ngf": g9[0], "ndf": d0[0], "nc": g9[1]}
    metadata = metadata or {}
    return tuple(int(metadata.get(k, inferred[k])) for k in ("nz", "ngf", "ndf", "nc"))


def load_checkpoint(path):
    """Generator and Discriminator from a webgan checkpoint, loaded with
    strict=True. Returns (netG, netD, sizes, metadata)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata() or {}
        tensors = {k: f.get_tensor(k) for k in f.keys()
                   if k.startswith(GENERATOR_PREFIX + "main.")
                   or k.startswith(DISCRIMINATOR_PREFIX + "main.")}
    nz, ngf, ndf, nc = infer_sizes(tensors, metadata)
    netG, netD = Generator(nz, ngf, nc), Discriminator(ndf, nc)
    netG.load_state_dict(unprefixed_state(tensors, GENERATOR_PREFIX), strict=True)
    netD.load_state_dict(unprefixed_state(tensors, DISCRIMINATOR_PREFIX), strict=True)
    return netG, netD, (nz, ngf, ndf, nc), metadata
