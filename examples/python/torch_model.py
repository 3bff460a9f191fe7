"""Sampling a PyTorch score model with scorelab and comparing it with the empirical score.

Any callable f(x, t) -> array is a score: x is a float32 numpy array (B, d), t a float64
array (B,); scorelab calls it once per step on the whole batch. A PyTorch model is wrapped in
three lines (below). The model here is a small MLP trained for a few hundred steps of
denoising score matching on 100 Swiss-roll points; install torch to run it
(`pip install torch`); without torch the script says so and exits.

    python examples/python/torch_model.py
"""

import sys

import numpy as np

import scorelab

try:
    import torch
except ImportError:
    print("this example needs PyTorch (pip install torch); scorelab itself does not")
    sys.exit(0)


def wrap(model, device="cpu"):
    """A torch module m(x, t) -> score as a scorelab score callable."""

    @torch.no_grad()
    def score(x, t):
        x = torch.from_numpy(x).to(device)
        t = torch.from_numpy(t).to(device=device, dtype=torch.float32)
        return model(x, t).cpu().numpy()

    return score


class ScoreMlp(torch.nn.Module):
    """s(x, t) = ε-network(x, t) / (−σ(t)), with the vp σ(t) of scorelab.SDE("vp")."""

    def __init__(self, sde, width=128):
        super().__init__()
        self.sde = sde
        self.net = torch.nn.Sequential(
            torch.nn.Linear(3, width), torch.nn.SiLU(),
            torch.nn.Linear(width, width), torch.nn.SiLU(),
            torch.nn.Linear(width, 2),
        )

    def sigma(self, t):
        _, _, sigma2 = self.sde.marginal(t.detach().cpu().double().numpy())
        return torch.from_numpy(np.sqrt(sigma2)).float()[:, None]

    def forward(self, x, t):
        return -self.net(torch.cat([x, t[:, None]], 1)) / self.sigma(t)


def main():
    torch.manual_seed(0)
    sde = scorelab.SDE("vp")
    train = scorelab.dataset("swissroll", n=100, seed=0)
    model = ScoreMlp(sde)
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-3)
    data = torch.from_numpy(train)
    for _ in range(500):
        x0 = data[torch.randint(len(data), (256,))]
        t = torch.rand(256) * (1 - 1e-3) + 1e-3
        alpha, shift, sigma2 = (torch.from_numpy(np.asarray(v)).float()[:, None] for v in sde.marginal(t.double().numpy()))
        z = torch.randn_like(x0)
        xt = alpha * x0 + shift + sigma2.sqrt() * z
        loss = ((model.net(torch.cat([xt, t[:, None]], 1)) - z) ** 2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()

    fresh = scorelab.dataset("swissroll", n=1000, seed=1)
    for label, score in [("torch MLP", wrap(model)), ("empirical score", "empirical")]:
        run = scorelab.sample(score, sde=sde, train=train, n=1000, steps=200, seed=2)
        stats = scorelab.memorization(run.samples, train, fresh)["samples"]
        print(f"{label:<16} memorised {stats['memorised_fraction']:.3f}  mean d1 {stats['d1']['mean']:.4f}")


if __name__ == "__main__":
    main()
