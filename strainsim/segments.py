"""The AHA 17-segment model of the left ventricle, read from ``segments/aha17.toml``.

The model is data: names, rings, walls, neighbours, coronary territory, the
coronary-vein branches that reach each segment, and the bullseye geometry.
Everything else in strainsim asks this module which segments are septal,
lateral, basal or neighbours, so a user can edit the TOML file (or point at
their own) without touching code.

Examples
--------
>>> from strainsim.segments import load_segments
>>> model = load_segments()
>>> model.name_of(5)
'basal inferolateral'
>>> int(model.hops[5 - 1, 11 - 1]), int(model.hops[5 - 1, 2 - 1])
(1, 3)
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from strainsim.errors import InputError
from strainsim.resources import data_path, read_toml

__all__ = [
    "Segment",
    "Vein",
    "SegmentModel",
    "load_segments",
    "N_SEGMENTS",
]

N_SEGMENTS = 17
_RINGS = ("basal", "mid", "apical", "apex")
_TERRITORIES = ("LAD", "LCx", "RCA")


@dataclass(frozen=True)
class Segment:
    """One AHA segment.

    Attributes
    ----------
    number : int
        1-17.
    name : str
        For example ``"basal inferolateral"``.
    ring, wall : str
        Ring (basal, mid, apical, apex) and wall (anterior, inferolateral, ...).
    angle_start, angle_end : float
        Bullseye sector in degrees, counter-clockwise from 3 o'clock.
    radius_inner, radius_outer : float
        Bullseye annulus on the unit disc.
    neighbours : tuple of int
        Segments sharing an edge with this one.
    territory : str
        Coronary artery usually supplying it (LAD, LCx, RCA).
    veins : tuple of str
        Coronary-vein branches through which an LV lead can reach it.
    """

    number: int
    name: str
    ring: str
    wall: str
    angle_start: float
    angle_end: float
    radius_inner: float
    radius_outer: float
    neighbours: tuple[int, ...]
    territory: str
    veins: tuple[str, ...]

    @property
    def angle_span(self) -> float:
        """Angular width of the sector in degrees."""
        return (self.angle_end - self.angle_start) % 360 or 360.0

    @property
    def angle_centre(self) -> float:
        """Angle of the sector's centre line in degrees, in [0, 360)."""
        return (self.angle_start + self.angle_span / 2) % 360


@dataclass(frozen=True)
class Vein:
    """A coronary-sinus branch an LV lead can be placed through.

    Attributes
    ----------
    key, label : str
        Identifier used in the segment table and a readable name.
    prevalence : float
        Probability (0-1) that a patient has a usable branch.
    usual : tuple of int
        Segments where a lead placed without imaging usually ends up in this branch.
    """

    key: str
    label: str
    prevalence: float
    usual: tuple[int, ...] = ()


@dataclass(frozen=True)
class SegmentModel:
    """The 17-segment model with derived lookups.

    Attributes
    ----------
    segments : tuple of Segment
        Ordered by segment number.
    veins : tuple of Vein
    source : str
        Where the model was read from.
    adjacency : ndarray of bool, shape (17, 17)
        ``adjacency[i, j]`` is True when segments ``i+1`` and ``j+1`` are neighbours.
    hops : ndarray of int, shape (17, 17)
        Graph distance between segments (0 on the diagonal, 1 for neighbours).
    """

    segments: tuple[Segment, ...]
    veins: tuple[Vein, ...]
    source: str
    adjacency: np.ndarray = field(repr=False, compare=False)
    hops: np.ndarray = field(repr=False, compare=False)

    def wall_hops(self) -> np.ndarray:
        """Distance between segments counted in walls (17, 17), as a study scoring leads
        on six walls (the basal ring's sectors) counts it: 0 within one wall (any ring),
        1 for neighbouring walls, up to 3 across the ventricle; the apex (17) is 0 from
        itself and 1 from every other segment."""
        basal = sorted((s for s in self.segments if s.ring == "basal"),
                       key=lambda s: s.angle_start)

        def wall(seg) -> int:
            for k, b in enumerate(basal):
                if (seg.angle_centre - b.angle_start) % 360.0 < b.angle_span:
                    return k
            raise ValueError(f"segment {seg.number} lies in no basal sector")

        walls = [None if s.ring == "apex" else wall(s) for s in self.segments]
        out = np.empty((N_SEGMENTS, N_SEGMENTS), dtype=np.int64)
        n_walls = len(basal)
        for i, wi in enumerate(walls):
            for j, wj in enumerate(walls):
                if wi is None or wj is None:
                    out[i, j] = 0 if i == j else 1
                else:
                    d = abs(wi - wj) % n_walls
                    out[i, j] = min(d, n_walls - d)
        return out

    def touch_hops(self) -> np.ndarray:
        """Distance between segments (17, 17) with every touching segment a neighbour:
        the edge neighbours of :attr:`hops` and the segments of the next ring that meet
        a segment only at a corner (basal inferolateral and mid anterolateral, say), as a
        study counting "within one segment" from a lead's wall and ring counts it."""
        def meets(a, b) -> bool:
            # closed angular intervals of two segments intersect (a shared corner counts)
            a_lo, b_lo = a.angle_start, b.angle_start
            gap = (b_lo - a_lo) % 360.0
            return gap <= a.angle_span + 1e-9 or (360.0 - gap) <= b.angle_span + 1e-9

        touching = np.array(self.adjacency, dtype=bool)
        for a in self.segments:
            for b in self.segments:
                next_ring = (abs(a.radius_outer - b.radius_inner) < 1e-9
                             or abs(b.radius_outer - a.radius_inner) < 1e-9)
                if a.number != b.number and next_ring and meets(a, b):
                    touching[a.number - 1, b.number - 1] = True
        return _hop_distances(touching)

    # -- lookups --------------------------------------------------------------------------
    @property
    def names(self) -> tuple[str, ...]:
        """Segment names in number order."""
        return tuple(s.name for s in self.segments)

    def name_of(self, number: int) -> str:
        """Name of segment ``number`` (1-17)."""
        return self.segments[number - 1].name

    def numbers(self, *, ring: str | tuple[str, ...] | None = None,
                wall: str | tuple[str, ...] | None = None) -> np.ndarray:
        """Segment numbers (1-based) matching a ring and/or a wall.

        Examples
        --------
        >>> load_segments().numbers(ring=("basal", "mid"), wall="inferolateral")
        array([ 5, 11])
        """
        rings = (ring,) if isinstance(ring, str) else ring
        walls = (wall,) if isinstance(wall, str) else wall
        out = [s.number for s in self.segments
               if (rings is None or s.ring in rings) and (walls is None or s.wall in walls)]
        return np.asarray(out, dtype=np.int64)

    def number_of(self, label: str | int) -> int:
        """Segment number from a number-like string (``"5"``) or a name (case-insensitive)."""
        text = str(label).strip()
        if text.isdigit() and 1 <= int(text) <= len(self.segments):
            return int(text)
        lowered = " ".join(text.lower().replace("_", " ").replace("-", " ").split())
        for s in self.segments:
            if s.name == lowered:
                return s.number
        raise KeyError(label)

    @cached_property
    def dyssynchrony_groups(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """0-based indices of the basal+mid, septal and lateral segments.

        Septal: basal and mid anteroseptal and inferoseptal; lateral: basal and mid
        anterolateral and inferolateral. Used for the dyssynchrony indices.
        """
        basal_mid = ("basal", "mid")
        groups = (self.numbers(ring=basal_mid) - 1,
                  self.numbers(ring=basal_mid, wall=("anteroseptal", "inferoseptal")) - 1,
                  self.numbers(ring=basal_mid, wall=("anterolateral", "inferolateral")) - 1)
        for g in groups:
            g.setflags(write=False)
        return groups

    def vein_access(self) -> np.ndarray:
        """Boolean matrix (n_veins, 17): which branch reaches which segment."""
        keys = [v.key for v in self.veins]
        access = np.zeros((len(keys), len(self.segments)), dtype=bool)
        for s in self.segments:
            for v in s.veins:
                access[keys.index(v), s.number - 1] = True
        return access

    # -- bullseye geometry ----------------------------------------------------------------
    def label_grid(self, size: int) -> np.ndarray:
        """Rasterize the bullseye: segment number per pixel of a ``size x size`` image.

        Pixels outside the unit disc are 0. Row 0 is the top (anterior) of the image.
        """
        coords = (np.arange(size) + 0.5) / size * 2.0 - 1.0
        x = coords[None, :]
        y = -coords[:, None]
        return self.segment_at(x, y)

    def segment_at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Segment number at bullseye coordinates (unit disc), 0 outside it."""
        x, y = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float))
        radius = np.hypot(x, y)
        angle = np.degrees(np.arctan2(y, x)) % 360.0
        labels = np.zeros(radius.shape, dtype=np.int64)
        for s in self.segments:
            in_ring = (radius >= s.radius_inner) & (radius < s.radius_outer)
            rel = (angle - s.angle_start) % 360.0
            rel = np.where(rel >= 360.0 - 1e-9, 0.0, rel)  # float wrap-around at 360
            in_sector = rel < s.angle_span
            labels[in_ring & in_sector & (labels == 0)] = s.number
        return labels


def _fail(source: str, fieldname: str, expected: str, found=None):
    raise InputError(source, fieldname, expected, None if found is None else repr(found))


def _schema():
    """The segment model file's declared schema (pydantic models, built when first used
    so that importing strainsim stays light)."""
    from typing import Literal

    from pydantic import BaseModel, Field

    from strainsim.schema import STRICT

    segment_number = Field(ge=1, le=N_SEGMENTS)

    class ModelSection(BaseModel):
        model_config = STRICT
        name: str
        n_segments: Literal[N_SEGMENTS]

    class Ring(BaseModel):
        model_config = STRICT
        radius_inner: float = Field(ge=0.0, le=1.0, description="Of the unit bullseye disc.")
        radius_outer: float = Field(ge=0.0, le=1.0)

    class VeinEntry(BaseModel):
        model_config = STRICT
        label: str
        prevalence: float = Field(ge=0.0, le=1.0, description="Chance that a patient has "
                                  "a usable branch.")
        usual: list[int] = Field([], description="Segments an implanter without imaging "
                                 "parks a lead in, in order.")

    class SegmentEntry(BaseModel):
        model_config = STRICT
        number: int = segment_number
        name: str
        ring: str
        wall: str
        angle_start: float = Field(ge=-360.0, le=720.0, description="Degrees, "
                                   "counter-clockwise from 3 o'clock.")
        angle_end: float = Field(ge=-360.0, le=720.0)
        neighbours: list[int] = []
        territory: Literal[_TERRITORIES]
        veins: list[str] = []

    class SegmentFile(BaseModel):
        model_config = STRICT
        model: ModelSection | None = None
        rings: dict[str, Ring]
        veins: dict[str, VeinEntry] = {}
        segment: list[SegmentEntry] = Field(min_length=N_SEGMENTS, max_length=N_SEGMENTS)

    return SegmentFile


def _parse(raw: dict, source: str) -> SegmentModel:
    from strainsim.schema import validate

    checked = validate(_schema(), raw, source)
    veins = []
    for key, v in checked.veins.items():
        if not all(1 <= k <= N_SEGMENTS for k in v.usual):
            _fail(source, f"veins.{key}.usual", "a list of segment numbers 1-17", v.usual)
        veins.append(Vein(key=key, label=v.label, prevalence=v.prevalence, usual=tuple(v.usual)))
    vein_keys = {v.key for v in veins}
    segments = []
    for i, row in enumerate(checked.segment, start=1):
        where = f"segment[{i}]"
        if row.number != i:
            _fail(source, f"{where}.number", f"{i} (segments listed in order)", row.number)
        if row.ring not in checked.rings:
            _fail(source, f"{where}.ring", f"one of {sorted(checked.rings)}", row.ring)
        if not all(1 <= n <= N_SEGMENTS and n != i for n in row.neighbours):
            _fail(source, f"{where}.neighbours", "other segment numbers 1-17", row.neighbours)
        for v in row.veins:
            if v not in vein_keys:
                _fail(source, f"{where}.veins", f"branches declared in [veins] {sorted(vein_keys)}", v)
        ring = checked.rings[row.ring]
        segments.append(Segment(
            number=i, name=row.name.lower(), ring=row.ring, wall=row.wall,
            angle_start=row.angle_start % 360.0, angle_end=row.angle_end,
            radius_inner=ring.radius_inner, radius_outer=ring.radius_outer,
            neighbours=tuple(sorted(row.neighbours)), territory=row.territory,
            veins=tuple(row.veins)))

    adjacency = np.zeros((N_SEGMENTS, N_SEGMENTS), dtype=bool)
    for seg in segments:
        for n in seg.neighbours:
            adjacency[seg.number - 1, n - 1] = True
    if not np.array_equal(adjacency, adjacency.T):
        i, j = np.argwhere(adjacency != adjacency.T)[0]
        _fail(source, f"segment[{i + 1}].neighbours",
              f"symmetric neighbours (segment {j + 1} lists {i + 1} or the reverse)")
    hops = _hop_distances(adjacency)
    adjacency.setflags(write=False)
    hops.setflags(write=False)
    return SegmentModel(segments=tuple(segments), veins=tuple(veins), source=source,
                        adjacency=adjacency, hops=hops)


def _hop_distances(adjacency: np.ndarray) -> np.ndarray:
    """All-pairs graph distance by breadth-first search (-1 when unreachable)."""
    n = adjacency.shape[0]
    hops = np.full((n, n), -1, dtype=np.int64)
    for start in range(n):
        hops[start, start] = 0
        queue = deque([start])
        while queue:
            cur = queue.popleft()
            for nxt in np.flatnonzero(adjacency[cur]):
                if hops[start, nxt] < 0:
                    hops[start, nxt] = hops[start, cur] + 1
                    queue.append(nxt)
    return hops


@lru_cache(maxsize=8)
def _load_cached(path: str) -> SegmentModel:
    return _parse(read_toml(path), path)


def load_segments(path: str | Path | None = None) -> SegmentModel:
    """Load the 17-segment model.

    Parameters
    ----------
    path : str or Path, optional
        A TOML file in the format of ``segments/aha17.toml``. Default: the shipped model.

    Returns
    -------
    SegmentModel

    Raises
    ------
    InputError
        When the file is missing or malformed (naming the file and field).
    """
    if path is None:
        return _default_model()
    return _load_cached(str(Path(path)))


@lru_cache(maxsize=1)
def _default_model() -> SegmentModel:
    return _load_cached(str(data_path("segments", "aha17.toml")))
