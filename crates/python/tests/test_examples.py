"""The README example and the example scripts run as written."""

import re
import subprocess
import sys

from conftest import ROOT


def test_the_readme_example_runs_as_written():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Python") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT)
    assert "memorised" in out.stdout


def run(script, *args):
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / "python" / script), *args],
        check=True, capture_output=True, text=True,
    ).stdout


def test_the_mixture_example_shows_the_empirical_score_copying():
    out = run("mixture_memorisation.py", "--n", "200", "--steps", "100")
    empirical = next(line for line in out.splitlines() if line.startswith("empirical score"))
    mixture = next(line for line in out.splitlines() if line.startswith("numpy mixture score"))
    assert float(empirical.split()[3]) > 0.5 > float(mixture.split()[4])


def test_the_mnist_example_runs(tmp_path):
    out = run("mnist_checkpoint.py", "--n", "2", "--nfe", "4", "--out", str(tmp_path / "d.npy"))
    assert "2 digits of shape (1, 28, 28)" in out


def test_the_torch_example_runs_or_explains_that_it_needs_torch():
    out = run("torch_model.py")
    assert "memorised" in out or "needs PyTorch" in out
