"""Interrupts, output folders and options: one line, exit 2 (or 130), nothing half-written."""

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from strainsim.files import output_folder, write_text_atomic


def _running(pid):
    # a process that has not ended (a zombie waiting to be reaped has ended)
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return "\nState:\tZ" not in status and "\nState:\tX" not in status


def _children(pid):
    found = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        text = (task / "children").read_text() if (task / "children").exists() else ""
        found.update(int(x) for x in text.split())
    return found


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_sweep_exits_130_leaves_no_worker_and_no_output(tmp_path, sig):
    out = tmp_path / "sweep"
    # minutes of work, so that it is still running when the signal comes however slow the
    # workers start (a cold numba cache compiles for tens of seconds)
    proc = subprocess.Popen([sys.executable, "-m", "strainsim", "sweep", "--replicates",
                             "5000", "--workers", "2", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            # a shell that started these tests in the background may have
                            # left SIGINT ignored, which a child would inherit
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    workers = set()
    deadline = time.monotonic() + 60
    while len(workers) < 2 and time.monotonic() < deadline:  # the pool is up
        time.sleep(0.5)
        workers = {c for c in _children(proc.pid)
                   if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text()}
    assert len(workers) == 2, "the worker pool did not start"
    time.sleep(2.0)  # and working
    assert proc.poll() is None, "the sweep ended before it was interrupted"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("strainsim: interrupted")
    assert "Traceback" not in err
    deadline = time.monotonic() + 10
    while any(_running(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert workers and not any(_running(w) for w in workers)
    assert not out.exists()
    assert not list(tmp_path.glob(".sweep.partial-*"))


@pytest.mark.slow
def test_a_second_signal_while_a_run_shuts_down_still_exits_130(tmp_path):
    # an impatient user (or a supervisor) signals twice: the second must not interrupt
    # the shutdown the first began and end the process by a signal
    out = tmp_path / "sweep"
    proc = subprocess.Popen([sys.executable, "-m", "strainsim", "sweep", "--replicates",
                             "5000", "--workers", "2", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    workers = set()
    while len(workers) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
        workers = {c for c in _children(proc.pid)
                   if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text()}
    assert len(workers) == 2, "the worker pool did not start"
    time.sleep(2.0)
    # back to back, so the second is still pending when the first one's handler runs
    proc.send_signal(signal.SIGTERM)
    proc.send_signal(signal.SIGINT)
    for _ in range(20):
        time.sleep(0.01)
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("strainsim: interrupted")
    assert "Traceback" not in err
    assert not out.exists()


def test_an_output_folder_is_complete_or_untouched(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "old.txt").write_text("from before")
    with pytest.raises(RuntimeError), output_folder(out) as stage:
        (stage / "new.csv").write_text("half")
        raise RuntimeError("interrupted")
    assert sorted(p.name for p in out.iterdir()) == ["old.txt"]
    with output_folder(out) as stage:
        (stage / "new.csv").write_text("whole")
    assert sorted(p.name for p in out.iterdir()) == ["new.csv", "old.txt"]
    assert not list(tmp_path.glob(".run.partial-*"))


def test_files_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        write_text_atomic(tmp_path / "a.txt", "x")
        with output_folder(tmp_path / "folder") as stage:
            (stage / "b.txt").write_text("y")
    finally:
        os.umask(old)
    for path in (tmp_path / "a.txt", tmp_path / "folder" / "b.txt"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o640


@pytest.mark.parametrize("argv, fragment", [
    (["sweep", "--out", "{file}", "--replicates", "2"], "expected a folder"),
    (["trial", "--out", "{file}"], "expected a folder"),
    (["cohort", "target", "--out", "{file}"], "expected a folder"),
    (["trial", "--seed", "-1"], "--seed"),
    (["sweep", "--seed", "-3", "--replicates", "2"], "--seed"),
])
def test_bad_outputs_and_seeds_are_refused_before_any_work(tmp_path, cli, argv, fragment):
    target = tmp_path / "taken.txt"
    target.write_text("a file, not a folder")
    start = time.monotonic()
    result = cli([a.replace("{file}", str(target)) for a in argv])
    assert result.code == 2
    assert fragment in result.err and result.err.count("\n") == 1
    assert time.monotonic() - start < 5
    assert target.read_text() == "a file, not a folder"


def test_version(cli):
    from strainsim import __version__

    result = cli(["--version"])
    assert result.code == 0 and result.out.strip() == f"strainsim {__version__}"


def test_help_has_no_bool_metavars(cli):
    for command in ([], ["sweep"], ["ttp"], ["meta"]):
        result = cli([*command, "--help"])
        assert result.code == 0 and "<bool>" not in result.out


# --- strain exports with realistic mistakes ----------------------------------------------
def _export(tmp_path, name="e.csv", scale_time=1.0, sign=1.0, blank=None, value=None):
    import numpy as np

    t = np.arange(49) * 1000 / 60
    rows = ["time_ms," + ",".join(str(s) for s in range(1, 18))]
    for k, tk in enumerate(t):
        cells = []
        for s in range(17):
            v = sign * 25 * np.exp(-((tk - 300 - 5 * s) / 120) ** 2)
            if blank == s + 1:
                cells.append("")
            elif value is not None and k == 10 and s == 3:
                cells.append(value)
            else:
                cells.append(f"{v:.3f}")
        rows.append(f"{tk * scale_time:.6f}," + ",".join(cells))
    path = tmp_path / name
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(scale_time=0.001), "seconds? multiply by 1000"),
    (dict(sign=-1.0), "--strain longitudinal finds"),
    (dict(value="inf"), "infinite"),
    (dict(value="1e308"), "strain in %"),
])
def test_export_mistakes_are_caught_not_measured(tmp_path, cli, kwargs, fragment):
    result = cli(["ttp", str(_export(tmp_path, **kwargs)), "--json"])
    assert result.code == 2 and fragment in result.err and result.err.count("\n") == 1
    assert result.out == ""


def test_a_segment_without_samples_is_missing_not_scar(tmp_path, cli):
    import json

    result = cli(["ttp", str(_export(tmp_path, blank=17)), "--json"])
    assert result.code == 0, result.err
    info = json.loads(result.out)
    apex = info["segments"][16]
    assert apex["missing"] is True and apex["viable"] is None
    assert info["latest_segment"] not in (None, 17)  # chosen among the measured segments


def test_all_missing_and_non_real_npz_arrays(tmp_path, cli):
    import numpy as np

    empty = tmp_path / "empty.npz"
    np.savez(empty, strain=np.full((2, 17, 20), np.nan), time_ms=np.arange(20) * 20.0)
    result = cli(["ttp", str(empty)])
    assert result.code == 2 and "every sample missing" in result.err
    for bad in (np.ones((2, 17, 20), dtype=complex), np.ones((2, 17, 20), dtype=bool)):
        path = tmp_path / f"{bad.dtype}.npz"
        np.savez(path, strain=bad, time_ms=np.arange(20) * 20.0)
        result = cli(["ttp", str(path)])
        assert result.code == 2 and "real numbers" in result.err


def test_os_level_problems_are_input_errors(tmp_path, cli):
    folder = tmp_path / "a_folder.png"
    folder.mkdir()
    binary = tmp_path / "binary.csv"
    binary.write_bytes(bytes(range(256)) * 4)
    latin = tmp_path / "latin.toml"
    latin.write_bytes("[trial]\nname = 'caf\xe9'\n".encode("latin-1"))
    a_file = tmp_path / "plain.txt"
    a_file.write_text("x")
    csv_folder = tmp_path / "export.csv"
    csv_folder.mkdir()
    cases = [
        (["curves", "--plot", str(folder)], "the folder"),
        (["curves", "--csv", str(a_file / "inside.csv")], "under the file"),
        (["ttp", str(binary)], "UTF-8"),
        (["ttp", str(csv_folder)], "a folder"),
        (["trial", str(latin)], "UTF-8 text"),
    ]
    for argv, fragment in cases:
        result = cli(argv)
        assert result.code == 2, argv
        assert fragment in result.err and result.err.count("\n") == 1, (argv, result.err)


def test_options_that_cannot_work_are_refused_up_front(tmp_path, cli):
    big = tmp_path / "big.toml"
    big.write_text('[trial]\nname = "big"\nn_image_guided = 1000000\nn_control = 1000000\n')
    for argv, fragment in ((["trial", "target", "--test", "knha", "--out", str(tmp_path / "t")],
                            "at least 2 trials"),
                           (["cohort", str(big)], "--summary-only"),
                           (["sweep", "--replicates", "200000"], "[1, 100000]")):
        result = cli(argv)
        assert result.code == 2 and fragment in result.err, (argv, result.err)
