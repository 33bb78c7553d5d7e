"""The digits KAN-convolution example runs end to end (1 epoch, 1 seed)."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_digits_kanconv_example(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "digits_kanconv.py"), "--epochs", "1",
                           "--seeds", "0", "--out", str(tmp_path)], capture_output=True, text=True, timeout=600,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| ") and "%" in line]
    assert [r.split(" | ")[0] for r in rows] == ["| KAN VGG (Chebyshev, degree 3)", "| plain VGG",
                                                  "| bottleneck KAN ResNet (Chebyshev, degree 2, layer norm)",
                                                  "| plain bottleneck ResNet",
                                                  "| separable KAN ResNet (Chebyshev, degree 3)",
                                                  "| plain separable ResNet"]
    accuracies = [float(r.split(" | ")[2].split(" %")[0]) for r in rows]
    assert all(a > 20.0 for a in accuracies), accuracies  # one epoch: well above chance (10 %)
    assert (tmp_path / "digits_kanconv_functions.png").stat().st_size > 0


@pytest.mark.slow
def test_digits_kanconv_cross_validation_uses_the_training_images_only():
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "digits_kanconv.py"), "--cv", "2", "--epochs", "1",
                           "--seeds", "0"], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| ") and "%" in line]
    assert len(rows) == 6
    assert all(r.rstrip(" |").endswith(tuple("0123456789")) for r in rows)
    assert all(int(r.split(" | ")[-1].rstrip(" |")) <= 1347 for r in rows)  # errors counted over the 1347 images
    bad = subprocess.run([sys.executable, str(ROOT / "examples" / "digits_kanconv.py"), "--cv", "1"],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert bad.returncode == 2 and "--cv needs at least 2 folds" in bad.stderr
