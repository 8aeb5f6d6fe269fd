"""Ordering the slices of a CT series from their headers alone (pydicom datasets read with
``stop_before_pixels``): no torch, so the web process can check an upload with it.

Slices are sorted by ImagePositionPatient projected on the slice normal; the spacing is
the median step between positions. Several series, duplicate positions, gaps and a series
of one slice are refused with a message that says what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class SeriesError(ValueError):
    """The files do not make one complete, regularly spaced series. ``code`` names the
    problem (``too_few``, ``mixed``, ``no_position``, ``duplicate``, ``gap``, ``sizes``) so
    that a caller can word it for its users; ``missing`` counts the slices of a gap."""

    def __init__(self, message: str, code: str = "", missing: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.missing = missing


@dataclass(frozen=True)
class SliceOrder:
    order: list[int]  # indexes into the headers, first slice first
    positions: list[float]  # mm along the normal, sorted
    step: float  # mm between slices
    shape: tuple[int, int]  # rows, columns


def order_slices(headers: list) -> SliceOrder:
    if len(headers) < 2:
        raise SeriesError("a CT series needs at least two slices", "too_few")
    series = {str(h.get("SeriesInstanceUID", "")) for h in headers}
    if len(series) > 1:
        raise SeriesError(f"the files belong to {len(series)} different series", "mixed")
    for dataset in headers:
        if "ImagePositionPatient" not in dataset or "ImageOrientationPatient" not in dataset:
            raise SeriesError("a slice lacks ImagePositionPatient or ImageOrientationPatient", "no_position")
    orientation = np.array(headers[0].ImageOrientationPatient, dtype=float)
    normal = np.cross(orientation[:3], orientation[3:])
    positions = np.array([np.dot(np.array(h.ImagePositionPatient, dtype=float), normal) for h in headers])
    order = np.argsort(positions, kind="stable")
    positions = positions[order]
    gaps = np.diff(positions)
    if np.any(gaps <= 1e-3):
        raise SeriesError("two slices share one position (duplicates or mixed series)", "duplicate")
    step = float(np.median(gaps))
    if np.any(gaps > 1.5 * step):
        missing = int(np.sum(np.round(gaps / step) - 1))
        raise SeriesError(f"the series has a gap: about {missing} slice(s) missing", "gap", missing)
    shapes = {(int(h.Rows), int(h.Columns)) for h in headers}
    if len(shapes) > 1:
        raise SeriesError("the slices differ in size", "sizes")
    return SliceOrder(order=[int(i) for i in order], positions=[float(p) for p in positions],
                      step=step, shape=shapes.pop())
