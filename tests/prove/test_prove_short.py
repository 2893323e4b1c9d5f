"""CI's short version of bench/prove.py: load with reconciliation at 200 concurrent clients, every
fault, hostile input and isolation suite, one summary; must pass in about a minute."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_prove_short():
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "prove.py"), "--short"], cwd=REPO,
                          capture_output=True, text=True, timeout=240)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert "lost records: 0" in out and "PROVE OK" in out, out[-6000:]
