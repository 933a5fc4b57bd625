"""The wheel ships segments/ and cohorts/ and finds them with importlib.resources."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    pytest.importorskip("hatchling")
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                           "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    (path,) = out.glob("strainsim-*.whl")
    return path


def test_wheel_contains_the_data(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "strainsim/data/segments/aha17.toml" in names
    shipped = {p.relative_to(ROOT).as_posix() for p in (ROOT / "cohorts").rglob("*")
               if p.is_file()}
    for rel in shipped:
        assert f"strainsim/data/{rel}" in names


def test_installed_layout_reads_packaged_data(wheel, tmp_path):
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    code = ("from strainsim.resources import data_path; from strainsim.segments import "
            "load_segments; m = load_segments(); print(data_path('segments')); print(m.source)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, env={"PYTHONPATH": str(target), "PATH": ""}, timeout=60)
    assert done.returncode == 0, done.stderr
    folder, source = done.stdout.split()
    assert Path(folder).is_relative_to(target) and Path(source).is_relative_to(target)
