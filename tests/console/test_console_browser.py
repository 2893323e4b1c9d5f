"""The console in a real headless Chromium (Debian's package, no browser download): its SVG
charts render the data of requests made here, and a non-admin key gets the refusal.
Screenshots are written to $MESH_TEST_ARTIFACTS (default: the test's tmp folder)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.console.test_console import mesh  # noqa: F401  (the module fixture: a mesh with real traffic)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium package is not installed")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--window-size=1280,1000",
         "--virtual-time-budget=8000"]


def _chromium(url: str, profile: Path, *extra: str) -> str:
    result = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *extra, url],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def _artifacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("MESH_TEST_ARTIFACTS") or tmp_path) / "console"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_charts_render_real_traffic_and_a_non_admin_key_is_refused(mesh, tmp_path):  # noqa: F811
    artifacts = _artifacts(tmp_path)
    admin_url = f"{mesh.root_url}/console#key={mesh.key_for('ops')}"  # the fragment never reaches the server
    dom = _chromium(admin_url, tmp_path / "p1", "--dump-dom", f"--screenshot={artifacts / 'console-admin.png'}")
    assert 'data-ready="true"' in dom, dom[-3000:]
    assert 'data-chart="spend-app"' in dom and 'data-series="shop"' in dom and 'data-series="ops"' in dom
    assert 'data-chart="spend-model"' in dom and 'data-series="echo-1"' in dom
    assert 'data-series="echo:p95"' in dom and 'data-series="broken:p50"' in dom
    assert '<polyline' in dom and 'data-series="retail-monthly"' in dom
    forecast = httpx.get(f"{mesh.root_url}/v1/mesh/costs/forecast?group_by=app&days=7",
                         headers={"Authorization": f"Bearer {mesh.key_for('ops')}"}).json()["total"]["projected_usd"]
    assert dom.count('data-series="forecast"') == 2  # the dashed run-rate line on both spend charts
    drawn = re.findall(r'data-projected-usd="([0-9.]+)"', dom)  # the page asked a moment earlier: days left shrank
    assert len(drawn) == 2 and float(drawn[0]) == pytest.approx(float(forecast), rel=1e-4) and "by month end" in dom
    assert (artifacts / "console-admin.png").stat().st_size > 10_000

    denied = _chromium(f"{mesh.root_url}/console#key={mesh.key_for('shop')}", tmp_path / "p2", "--dump-dom")
    assert 'data-ready="error"' in denied and "not an admin app" in denied
    assert 'data-series="shop"' not in denied
