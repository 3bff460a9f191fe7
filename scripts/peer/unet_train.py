"""PyTorch twin of scorelab's tiny MNIST U-Net training step (speed baseline), CPU, float32.

The same network as crates/train/src/unet.rs (`UNetConfig::preset("tiny", [1, 28, 28])`:
channels 16, multipliers [1, 2, 2], 1 residual block per level, GroupNorm(4), no attention,
sinusoidal time embedding of size 32; 196,465 parameters) and the same step as
crates/train/src/trainer.rs `Trainer::step`:

  x0 ~ MNIST train (60k, with replacement), pixels in [0, 1] mapped to [-1, 1]
  t ~ U(1e-5, 1)   (vp's default t_eps),  eps ~ N(0, I)
  vp SDE, beta 0.1..20, T = 1:  alpha = exp(-1/2 int beta),  sigma^2 = 1 - alpha^2
  x_t = alpha x0 + sigma eps
  "eps" parameterisation: s = -f(x_t, t)/sigma (the network gets t itself)
  dsm, lambda = sigma^2:  mean_b (lambda/sigma^2) || sigma s + eps ||^2   (sum over the 784 pixels)
  backward, global-norm clipping at 1.0, Adam (0.9, 0.999, 1e-8; lr 1e-3 after a 200-step
  linear warm-up), EMA of the weights (decay 0.999) every step.

Prints one JSON line. Call setup() before numpy/torch are imported (thread env vars).
"""

import argparse
import gzip
import json
import math
import os
import statistics
import time

BETA_MIN = 0.1
BETA_MAX = 20.0
T_END = 1.0
T_EPS = 1e-5  # Sde::default_t_eps for vp (crates/core/src/sde.rs)
LR = 1e-3
LR_WARMUP = 200
GRAD_CLIP = 1.0
EMA_DECAY = 0.999
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8

# tiny preset
IMAGE = (1, 28, 28)
CHANNELS = 16
MULTIPLIERS = (1, 2, 2)
BLOCKS = 1
GROUPS = 4
EMBEDDING = 32
EXPECTED_PARAMS = 196465

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MNIST = os.path.normpath(os.path.join(HERE, "..", "..", "datasets", "mnist"))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2, help="framework thread count (default 2)")
    p.add_argument("--steps", type=int, default=50, help="timed steps per run (default 50)")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps before the first run (default 5)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--reps", type=int, default=1, help="timed runs; the median is reported (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=DEFAULT_MNIST, help="folder with train-images-idx3-ubyte.gz")
    return p.parse_args()


def setup(threads):
    """Pin thread counts. Must run before numpy/torch are imported."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    import torch  # noqa: E402  (deliberately late)

    torch.set_num_threads(threads)
    torch.set_default_dtype(torch.float32)
    return torch


def _machine_busy_s():
    """Busy CPU seconds of the whole machine (all CPUs) from /proc/stat."""
    with open("/proc/stat") as f:
        vals = [int(v) for v in f.readline().split()[1:]]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)  # idle + iowait
    return (sum(vals[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class Contention:
    """CPU time used by OTHER processes while the benchmark runs (as in shared/peer/common.py):
    other_cpu_frac = foreign CPU s / (wall s * nproc)."""

    def __init__(self):
        self.m0 = _machine_busy_s()
        self.p0 = sum(os.times()[:2])
        self.t0 = time.perf_counter()

    def result(self):
        wall = time.perf_counter() - self.t0
        other = (_machine_busy_s() - self.m0) - (sum(os.times()[:2]) - self.p0)
        return {"other_cpu_frac": round(max(other, 0.0) / (wall * os.cpu_count()), 3),
                "loadavg_1m_end": os.getloadavg()[0]}


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------
def load_idx_images(path):
    import numpy as np

    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, n, r, c = (int.from_bytes(raw[i:i + 4], "big") for i in range(0, 16, 4))
    assert magic == 0x803, hex(magic)
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, r * c)


def load_mnist(data_dir):
    """60000 x 784 float32 in model space: (x/255 - 0.5)/0.5 (Normalisation::default_for images)."""
    import numpy as np

    x = load_idx_images(os.path.join(data_dir, "train-images-idx3-ubyte.gz")).astype(np.float32) / 255.0
    return ((x - np.float32(0.5)) / np.float32(0.5)).astype(np.float32)


# --------------------------------------------------------------------------------------
# VP SDE
# --------------------------------------------------------------------------------------
def vp_alpha_sigma(t, torch):
    """t: float64 tensor (B,). alpha, sigma as float32 (B, 1); computed in f64 like scorelab."""
    ib = BETA_MIN * t + 0.5 * t * t * (BETA_MAX - BETA_MIN)
    alpha = torch.exp(-0.5 * ib)
    sigma = torch.sqrt(-torch.expm1(-ib))
    return alpha.float().unsqueeze(1), sigma.float().unsqueeze(1)


# --------------------------------------------------------------------------------------
# U-Net (crates/train/src/unet.rs)
# --------------------------------------------------------------------------------------
def make_unet(seed, torch):
    import torch.nn as nn
    import torch.nn.functional as F

    def conv(cin, cout, kernel, stride=1, scale=1.0):
        """Conv::init: padding kernel/2, weight and bias ~ U(-k, k), k = scale/sqrt(cin*kernel^2)."""
        c = nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2)
        k = scale / math.sqrt(cin * kernel * kernel)
        nn.init.uniform_(c.weight, -k, k)
        nn.init.uniform_(c.bias, -k, k)
        return c

    def dense(cin, cout):
        """Dense::init: y = x W + b, W, b ~ U(-1/sqrt(in), 1/sqrt(in)) (torch's Linear default)."""
        d = nn.Linear(cin, cout)
        k = 1.0 / math.sqrt(cin)
        nn.init.uniform_(d.weight, -k, k)
        nn.init.uniform_(d.bias, -k, k)
        return d

    def norm(c):
        # GroupNorm: biased variance over each group, eps 1e-5, gamma = 1, beta = 0
        return nn.GroupNorm(GROUPS, c, eps=1e-5, affine=True)

    class ResBlock(nn.Module):
        """GN -> SiLU -> conv3x3 -> + Dense(temb) -> GN -> SiLU -> conv3x3, plus a 1x1 conv on the
        skip path when the channel count changes. temb is already SiLU(MLP(emb(t)))."""

        def __init__(self, cin, cout, time_dim):
            super().__init__()
            self.norm1 = norm(cin)
            self.conv1 = conv(cin, cout, 3)
            self.time = dense(time_dim, cout)
            self.norm2 = norm(cout)
            self.conv2 = conv(cout, cout, 3)
            self.skip = conv(cin, cout, 1) if cin != cout else None

        def forward(self, x, temb):
            h = self.conv1(F.silu(self.norm1(x))) + self.time(temb)[:, :, None, None]
            h = self.conv2(F.silu(self.norm2(h)))
            return (self.skip(x) if self.skip is not None else x) + h

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            time_dim = 4 * CHANNELS
            levels = [m * CHANNELS for m in MULTIPLIERS]
            half = EMBEDDING // 2
            freqs = [math.exp(math.log(1000.0) * (k / (half - 1) if half > 1 else 0.0)) for k in range(half)]
            self.register_buffer("freqs", torch.tensor(freqs, dtype=torch.float32))
            # creation order as in UNetConfig::init (the parameter order; irrelevant for speed)
            self.conv_in = conv(IMAGE[0], CHANNELS, 3)
            self.down = nn.ModuleList()
            self.downsample = nn.ModuleList()
            current = CHANNELS
            for l, ch in enumerate(levels):
                for _ in range(BLOCKS):
                    self.down.append(ResBlock(current, ch, time_dim))
                    current = ch
                if l + 1 < len(levels):
                    self.downsample.append(conv(ch, ch, 3, stride=2))
            self.mid1 = ResBlock(current, current, time_dim)
            # (no attention in the tiny preset)
            self.mid2 = ResBlock(current, current, time_dim)
            self.up = nn.ModuleList()
            self.upsample = nn.ModuleList()
            for l in reversed(range(len(levels))):
                ch = levels[l]
                for i in range(BLOCKS):
                    cin = current + ch if i == 0 else ch
                    self.up.append(ResBlock(cin, ch, time_dim))
                    current = ch
                if l > 0:
                    self.upsample.append(conv(ch, ch, 3))
            self.time1 = dense(EMBEDDING, time_dim)
            self.time2 = dense(time_dim, time_dim)
            self.norm_out = norm(CHANNELS)
            self.conv_out = conv(CHANNELS, IMAGE[0], 3, scale=0.1)
            self.levels = len(levels)

        def forward(self, x, t):
            """x: (B, 784) flattened images, t: (B, 1). Returns (B, 784)."""
            n = x.shape[0]
            arg = t * self.freqs  # t.matmul(freqs [1, half])
            e = torch.cat([torch.sin(arg), torch.cos(arg)], dim=1)
            temb = F.silu(self.time2(F.silu(self.time1(e))))
            h = self.conv_in(x.reshape(n, *IMAGE))
            skips = []
            for l in range(self.levels):
                for r in self.down[l * BLOCKS:(l + 1) * BLOCKS]:
                    h = r(h, temb)
                skips.append(h)
                if l + 1 < self.levels:
                    h = self.downsample[l](h)
            h = self.mid1(h, temb)
            h = self.mid2(h, temb)
            for i, l in enumerate(reversed(range(self.levels))):
                h = torch.cat([h, skips.pop()], dim=1)
                for r in self.up[i * BLOCKS:(i + 1) * BLOCKS]:
                    h = r(h, temb)
                if l > 0:
                    h = self.upsample[i](F.interpolate(h, scale_factor=2, mode="nearest"))
            h = self.conv_out(F.silu(self.norm_out(h)))
            return h.reshape(n, -1)

    torch.manual_seed(seed)
    return UNet()


# --------------------------------------------------------------------------------------
# Training step
# --------------------------------------------------------------------------------------
def main():
    args = parse_args()
    torch = setup(args.threads)
    contention = Contention()
    data = torch.from_numpy(load_mnist(args.data_dir))
    n_data, dim = data.shape
    assert (n_data, dim) == (60000, 784), data.shape

    net = make_unet(args.seed, torch)
    params = [p for p in net.parameters()]
    n_params = sum(p.numel() for p in params)
    assert n_params == 196465, n_params
    ema = [p.detach().clone() for p in params]
    opt = torch.optim.Adam(params, lr=LR, betas=ADAM_BETAS, eps=ADAM_EPS, foreach=True)
    gen = torch.Generator().manual_seed(args.seed)
    state = {"k": 0}

    def step():
        k = state["k"] + 1
        # Batch::draw: rows with replacement, t ~ U(t_eps, T), eps ~ N(0, I)
        idx = torch.randint(0, n_data, (args.batch,), generator=gen)
        x0 = data[idx]
        t = torch.rand(args.batch, dtype=torch.float64, generator=gen) * (T_END - T_EPS) + T_EPS
        eps = torch.randn(args.batch, dim, generator=gen)
        alpha, sigma = vp_alpha_sigma(t, torch)
        xt = x0 * alpha + eps * sigma
        # eps parameterisation: s = -f/sigma; network time input is t itself
        f = net(xt, t.float().unsqueeze(1))
        s = -f / sigma
        # dsm, lambda = sigma^2: weight lambda/sigma^2 = 1; sum over pixels, mean over batch
        loss = (s * sigma + eps).square().sum(dim=1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grads = [p.grad for p in params]
        norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))).item()
        loss_v = loss.item()  # scorelab reads loss, matching and |g|^2 back every step
        if not (math.isfinite(loss_v) and math.isfinite(norm)):
            raise RuntimeError(f"non-finite loss {loss_v} or gradient norm {norm} at step {k}")
        if norm > GRAD_CLIP:
            torch._foreach_mul_(grads, GRAD_CLIP / norm)
        for g in opt.param_groups:
            g["lr"] = LR * min(1.0, k / LR_WARMUP)
        opt.step()
        with torch.no_grad():
            torch._foreach_lerp_(ema, params, 1.0 - EMA_DECAY)  # ema <- d ema + (1-d) p
        state["k"] = k
        return loss_v

    for _ in range(args.warmup):
        step()
    runs, losses = [], []
    for _ in range(max(args.reps, 1)):
        t0 = time.perf_counter()
        run_losses = [step() for _ in range(args.steps)]
        wall = time.perf_counter() - t0
        runs.append(args.steps / wall)
        losses = run_losses
    sps = statistics.median(runs)
    last = losses[-min(len(losses), 20):]
    record = {
        "bench": "mnist_unet_dsm",
        "framework": "torch",
        "threads": args.threads,
        "torch_threads": torch.get_num_threads(),
        "batch": args.batch,
        "steps": args.steps,
        "warmup_steps": args.warmup,
        "reps": len(runs),
        "params": n_params,
        "steps_per_s": sps,
        "images_per_s": sps * args.batch,
        "runs_steps_per_s": runs,
        "mean_loss_last": sum(last) / len(last),
        "loss_finite": all(math.isfinite(v) for v in losses),
        "torch": torch.__version__,
    }
    record.update(contention.result())
    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
