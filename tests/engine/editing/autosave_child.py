"""A real Candor-like process for the crash test: accepts a correction, then autosaves forever.

Usage: ``python autosave_child.py fresh|recover ROOT`` (CANDOR_HOME set by the parent). It prints
``accepted <queue id> <generation>``, then ``saving N`` / ``saved N`` around each autosave until
killed. Layer ``work`` of save N holds :func:`state(N)`; layer ``accepted`` never changes after the
accept.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from engine.corrections import CorrectionQueue
from engine.editing.autosave import AutosaveSession, SavedLayer, Snapshot, pending_sessions, recover
from engine.volume import Geometry, Volume

GEOMETRY = Geometry((256, 256, 64), (0.8, 0.8, 2.0), (0.0, 0.0, 0.0))


def state(n: int) -> np.ndarray:
    """Save number ``n``'s label map: incompressible, so each save takes a while."""
    return np.random.default_rng(n).integers(0, 65535, GEOMETRY.shape, dtype=np.uint16)


def accepted_mask() -> np.ndarray:
    mask = np.zeros(GEOMETRY.shape, np.uint8)
    mask[20:40, 100:150, 100:150] = 1
    return mask


def main() -> None:
    mode, root = sys.argv[1], Path(sys.argv[2])
    if mode == "fresh":
        session, start = AutosaveSession(root), 1
    else:
        session, snapshot = recover(pending_sessions(root)[0].session_id, root)
        work = next(l for l in snapshot.layers if l.name == "work")
        start = int(work.info["n"]) + 1000  # recovered sessions continue with new states
    image = Volume(np.zeros(GEOMETRY.shape, np.int16), GEOMETRY, "MR")
    with CorrectionQueue() as queue:
        item = queue.add(image, np.zeros(GEOMETRY.shape, np.uint8), accepted_mask())
    accepted = SavedLayer("accepted", accepted_mask(), GEOMETRY)
    generation = session.save(Snapshot({"path": "scan"}, [accepted], [item.id]))
    print(f"accepted {item.id} {generation}", flush=True)
    n = start
    while True:
        work = SavedLayer("work", state(n), GEOMETRY, info={"n": n})
        print(f"saving {n}", flush=True)
        session.save(Snapshot({"path": "scan"}, [accepted, work], [item.id]))
        print(f"saved {n}", flush=True)
        n += 1


if __name__ == "__main__":
    main()
