#!/usr/bin/env python3
"""Reference values for the WGSL kernels, computed with PyTorch on the CPU.

Writes one safetensors file (float32, contiguous tensors) that the Rust tests
in crates/tensor/tests read and compare against. See README.md next to this
script for how to run it and what each tensor holds.

Usage: python tools/pytorch/kernel_fixtures.py [OUTPUT]
OUTPUT defaults to crates/tensor/tests/fixtures/pytorch_kernels.safetensors
under the repository root (found from this script's location).
"""

import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = REPO_ROOT / "crates/tensor/tests/fixtures/pytorch_kernels.safetensors"

# (N, C_in, C_out, H, W, K, stride, pad)
CONV2D_CASES = [
    (2, 3, 5, 7, 9, 3, 1, 1),
    (2, 1, 4, 28, 28, 4, 2, 1),
    (3, 4, 2, 8, 6, 4, 1, 0),
    (2, 4, 8, 7, 7, 3, 2, 1),
]

# (N, C_in, C_out, H, W, K, stride, pad, out_pad)
CONV_TRANSPOSE2D_CASES = [
    (2, 8, 4, 1, 1, 4, 1, 0, 0),
    (2, 6, 3, 4, 4, 3, 2, 1, 0),
    (2, 3, 5, 7, 5, 4, 2, 1, 0),
    (2, 4, 3, 3, 5, 3, 2, 1, 1),
]

# [N, C, H, W]; case 1 has large per-channel means (50 + 10*c) to catch
# variance computed as E[x^2] - E[x]^2 in float32.
BATCH_NORM_CASES = [(4, 3, 5, 5), (2, 6, 7, 7)]
BN_MOMENTUM = 0.1
BN_EPS = 1e-5

LEAKY_SLOPE = 0.2


def put(out, name, t):
    """Store a detached, contiguous float32 copy of `t` under `name`."""
    assert name not in out, name
    t = t.detach().to(torch.float32).contiguous().clone()
    out[name] = t


def linear_grads(y, inputs, dy):
    """Gradients of (y * dy).sum() with respect to each of `inputs`."""
    return torch.autograd.grad((y * dy).sum(), inputs)


def conv_case(out, prefix, x, weight, conv, config):
    """Forward and backward of one convolution case, stored under `prefix`."""
    x.requires_grad_()
    weight.requires_grad_()
    y = conv(x, weight)
    dy = torch.randn_like(y)
    dx, dweight = linear_grads(y, (x, weight), dy)
    for name, t in (("x", x), ("weight", weight), ("dy", dy), ("y", y),
                    ("dx", dx), ("dweight", dweight)):
        put(out, f"{prefix}.{name}", t)
    put(out, f"{prefix}.config", torch.tensor(config, dtype=torch.float32))


def conv2d_fixtures(out):
    for i, (n, cin, cout, h, w, k, stride, pad) in enumerate(CONV2D_CASES):
        x = torch.randn(n, cin, h, w)
        weight = torch.randn(cout, cin, k, k) * 0.2
        conv = lambda x, w, s=stride, p=pad: F.conv2d(x, w, stride=s, padding=p)
        conv_case(out, f"conv2d.{i}", x, weight, conv, [stride, pad])


def conv_transpose2d_fixtures(out):
    for i, (n, cin, cout, h, w, k, stride, pad, opad) in enumerate(CONV_TRANSPOSE2D_CASES):
        x = torch.randn(n, cin, h, w)
        weight = torch.randn(cin, cout, k, k) * 0.2
        conv = lambda x, w, s=stride, p=pad, o=opad: F.conv_transpose2d(
            x, w, stride=s, padding=p, output_padding=o)
        conv_case(out, f"conv_transpose2d.{i}", x, weight, conv, [stride, pad, opad])


def batch_norm_fixtures(out):
    for i, (n, c, h, w) in enumerate(BATCH_NORM_CASES):
        if i == 0:
            x = torch.randn(n, c, h, w)
        else:
            offset = 50.0 + 10.0 * torch.arange(c, dtype=torch.float32)
            x = torch.randn(n, c, h, w) * 3.0 + offset.view(1, c, 1, 1)
        x.requires_grad_()
        gamma = (1.0 + 0.1 * torch.randn(c)).requires_grad_()
        beta = (0.1 * torch.randn(c)).requires_grad_()
        running_mean_in = 0.1 * torch.randn(c)
        running_var_in = 1.0 + 0.1 * torch.rand(c)
        dy = torch.randn_like(x)

        running_mean = running_mean_in.clone()
        running_var = running_var_in.clone()
        y = F.batch_norm(
            x, running_mean, running_var, gamma, beta,
            training=True, momentum=BN_MOMENTUM, eps=BN_EPS,
        )
        dx, dgamma, dbeta = linear_grads(y, (x, gamma, beta), dy)

        # The running statistics use the unbiased batch variance.
        m = n * h * w
        xd = x.detach().double()
        mean = xd.mean(dim=(0, 2, 3))
        var_unbiased = xd.var(dim=(0, 2, 3), unbiased=True)
        want_rm = (1 - BN_MOMENTUM) * running_mean_in.double() + BN_MOMENTUM * mean
        want_rv = (1 - BN_MOMENTUM) * running_var_in.double() + BN_MOMENTUM * var_unbiased
        assert torch.allclose(running_mean.double(), want_rm, rtol=1e-5, atol=1e-5), (i, running_mean, want_rm)
        assert torch.allclose(running_var.double(), want_rv, rtol=1e-4, atol=1e-5), (i, running_var, want_rv)
        assert m > 1

        with torch.no_grad():
            y_eval = F.batch_norm(
                x, running_mean, running_var, gamma, beta,
                training=False, eps=BN_EPS,
            )

        p = f"batch_norm.{i}"
        put(out, f"{p}.x", x)
        put(out, f"{p}.gamma", gamma)
        put(out, f"{p}.beta", beta)
        put(out, f"{p}.running_mean_in", running_mean_in)
        put(out, f"{p}.running_var_in", running_var_in)
        put(out, f"{p}.dy", dy)
        put(out, f"{p}.y", y)
        put(out, f"{p}.running_mean_out", running_mean)
        put(out, f"{p}.running_var_out", running_var)
        put(out, f"{p}.dx", dx)
        put(out, f"{p}.dgamma", dgamma)
        put(out, f"{p}.dbeta", dbeta)
        put(out, f"{p}.y_eval", y_eval)


def bce_fixtures(out):
    logits = torch.tensor(
        [100.0, -100.0, 17.0, -17.0, 0.0, 0.5, -3.25, 2.0,
         40.0, -40.0, 1e-3, 7.5, -0.75, 3.0, -8.0, 88.5],
        dtype=torch.float32,
    ).requires_grad_()
    # Alternating 0, 1, 0, 1, ...: logit 100 has target 0, -100 has target 1,
    # 17 has target 0 (large losses that a naive log(sigmoid) would overflow).
    targets = torch.tensor([float(j % 2) for j in range(16)], dtype=torch.float32)
    loss = F.binary_cross_entropy_with_logits(logits, targets)
    (dlogits,) = torch.autograd.grad(loss, (logits,))

    want = (torch.sigmoid(logits.detach()) - targets) / logits.numel()
    assert torch.allclose(dlogits, want, rtol=1e-6, atol=1e-9), (dlogits, want)

    # Cross-check the mean loss in float64 with the stable formula.
    l64 = logits.detach().double()
    t64 = targets.double()
    loss64 = (l64.clamp(min=0) - l64 * t64 + torch.log1p(torch.exp(-l64.abs()))).mean()
    assert math.isclose(loss.item(), loss64.item(), rel_tol=1e-6), (loss.item(), loss64.item())

    put(out, "bce.logits", logits)
    put(out, "bce.targets", targets)
    put(out, "bce.loss", loss.reshape(1))
    put(out, "bce.dlogits", dlogits)


def mse_fixtures(out):
    pred = torch.randn(12).requires_grad_()
    target = torch.rand(12)
    loss = F.mse_loss(pred, target)
    (dpred,) = torch.autograd.grad(loss, (pred,))
    assert torch.allclose(dpred, 2 * (pred.detach() - target) / 12, rtol=1e-6, atol=1e-9)
    put(out, "mse.pred", pred)
    put(out, "mse.target", target)
    put(out, "mse.loss", loss.reshape(1))
    put(out, "mse.dpred", dpred)


def leaky_relu_fixtures(out):
    x = torch.tensor(
        [0.0, -0.0, 3.0, -3.0, 1e-3, -1e-3, 0.5, -2.5, 100.0, -100.0],
        dtype=torch.float32,
    ).requires_grad_()
    y = F.leaky_relu(x, LEAKY_SLOPE)
    (dx,) = torch.autograd.grad(y.sum(), (x,))
    # PyTorch's backward takes the negative slope wherever x > 0 is false,
    # so both +0.0 and -0.0 get 0.2.
    assert dx[0].item() == dx[1].item() == torch.tensor(LEAKY_SLOPE).item(), dx
    put(out, "leaky_relu.x", x)
    put(out, "leaky_relu.y", y)
    put(out, "leaky_relu.dx", dx)


def unary_fixtures(out, name, fn, x_values):
    x = torch.tensor(x_values, dtype=torch.float32).requires_grad_()
    y = fn(x)
    dy = torch.randn_like(y)
    (dx,) = linear_grads(y, (x,), dy)
    put(out, f"{name}.x", x)
    put(out, f"{name}.y", y)
    put(out, f"{name}.dy", dy)
    put(out, f"{name}.dx", dx)


def adam_fixtures(out):
    param = torch.nn.Parameter(torch.tensor([1.0], dtype=torch.float32))
    opt = torch.optim.Adam([param], lr=2e-4, betas=(0.5, 0.999), eps=1e-8)
    after = []
    for g in (0.5, -0.5):
        opt.zero_grad()
        param.grad = torch.tensor([g], dtype=torch.float32)
        opt.step()
        after.append(param.detach().clone())
    after = torch.cat(after)
    assert math.isclose(after[0].item(), 0.9998, rel_tol=1e-6), after
    assert math.isclose(after[1].item(), 0.999866666669, rel_tol=1e-6), after
    put(out, "adam.after", after)


def build():
    out = {}
    conv2d_fixtures(out)
    conv_transpose2d_fixtures(out)
    batch_norm_fixtures(out)
    bce_fixtures(out)
    mse_fixtures(out)
    leaky_relu_fixtures(out)
    unary_fixtures(out, "tanh", torch.tanh,
                   [0.0, 0.25, -0.25, 1.0, -1.0, 2.5, -2.5, 9.0, -20.0, 20.0])
    unary_fixtures(out, "sigmoid", torch.sigmoid,
                   [0.0, 0.25, -0.25, 1.0, -1.0, 4.0, -4.0, 15.0, -30.0, 30.0])
    adam_fixtures(out)
    return out


def main(argv):
    if len(argv) > 2:
        sys.exit(f"usage: {argv[0]} [OUTPUT]")
    output = Path(argv[1]) if len(argv) == 2 else DEFAULT_OUTPUT

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.set_default_dtype(torch.float32)
    torch.manual_seed(0)

    tensors = build()
    for name, t in tensors.items():
        assert t.dtype == torch.float32 and t.is_contiguous(), name
        assert torch.isfinite(t).all(), name

    output.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"generator": "tools/pytorch/kernel_fixtures.py", "torch": torch.__version__}
    save_file(tensors, str(output), metadata=metadata)

    loaded = load_file(str(output))
    assert loaded.keys() == tensors.keys()
    for name in sorted(loaded):
        t = loaded[name]
        assert torch.equal(t, tensors[name]), name
        print(f"{name} {list(t.shape)}")
    adam = loaded["adam.after"]
    print(f"adam.after = {adam[0].item():.12f}, {adam[1].item():.12f}")
    print(f"bce.loss = {loaded['bce.loss'].item():.9g}")
    print(f"torch {torch.__version__}; {len(loaded)} tensors written to {output}")


if __name__ == "__main__":
    main(sys.argv)
