"""Sliding-window inference: Candor vs MONAI ``sliding_window_inference`` (Gaussian mode).

Same network (the default model's primary member; an untrained copy of its architecture when the
package is missing), same 1 mm volume (the MNI T1 template, 197×233×189, normalised as the model
does), same patch size, overlap and batch size. Each run happens in a fresh subprocess, so peak
memory (VmHWM reset just before the run, minus VmRSS at that moment) is the run's own. Runs
alternate Candor/MONAI; medians are reported with the max absolute difference of the outputs.
On a shared machine the process CPU time is the robust speed figure (wall time includes waiting
for other processes); both are printed.

    python bench/bench_inference.py [--repeats 2] [--patch 64] [--overlap 0.25] [--batch 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _network():
    import torch

    from engine.models import DEFAULT_MODEL, ResUNet3D, load_model
    from engine.errors import ModelError

    try:
        return load_model(DEFAULT_MODEL, members=1).network, "trained default model"
    except ModelError:
        from engine.training.train_default import DEFAULT_CONFIG as cfg

        torch.manual_seed(0)
        net = ResUNet3D(1, cfg.num_classes, **{**cfg.architecture_params(), "channels": tuple(cfg.channels)})
        return net.eval(), "untrained default architecture"


def _volume():
    import numpy as np

    from engine.inference.preprocess import normalize
    from engine.models import Normalization
    from engine.synthesis.template import read_raw_template

    image, _ = normalize(read_raw_template()["t1"].astype(np.float32), Normalization())
    return image


def worker(method: str, out: str, patch: int, overlap: float, batch: int, threads: int) -> None:
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    net, which = _network()
    image = _volume()
    roi = (patch,) * 3
    with torch.inference_mode():  # warm-up (one patch) outside the measurement
        net(torch.zeros(1, 1, *roi))
    _reset_peak()
    rss0 = _status_kb("VmRSS")
    t0, c0 = time.perf_counter(), time.process_time()
    if method == "candor":
        from engine.inference import SlidingWindowConfig, sliding_window

        result = sliding_window(image[None], net, SlidingWindowConfig(roi, overlap, 0.125, batch))
    else:
        from monai.inferers import sliding_window_inference

        with torch.inference_mode():
            result = sliding_window_inference(torch.from_numpy(image)[None, None], roi, batch, net,
                                              overlap=overlap, mode="gaussian", sigma_scale=0.125)[0].numpy()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak_mb = (_status_kb("VmHWM") - rss0) / 1024
    np.save(out, result)
    print(json.dumps({"method": method, "seconds": seconds, "cpu_s": cpu, "peak_mb": peak_mb, "shape": list(image.shape),
                      "network": which}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--patch", type=int, default=64)
    parser.add_argument("--overlap", type=float, default=0.25)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.out, args.patch, args.overlap, args.batch, args.threads)
        return 0
    import numpy as np

    runs: dict[str, list[dict]] = {"candor": [], "monai": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for method in (("candor", "monai") if r % 2 == 0 else ("monai", "candor")):
                out = os.path.join(tmp, f"{method}.npy")
                cmd = [sys.executable, __file__, "--worker", method, "--out", out, "--patch", str(args.patch),
                       "--overlap", str(args.overlap), "--batch", str(args.batch), "--threads", str(args.threads)]
                line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
                runs[method].append(json.loads(line))
                print(line, file=sys.stderr)
        diff = float(np.abs(np.load(os.path.join(tmp, "candor.npy")) - np.load(os.path.join(tmp, "monai.npy"))).max())
    summary = {m: {"seconds": statistics.median(r["seconds"] for r in v),
                   "cpu_s": statistics.median(r["cpu_s"] for r in v),
                   "peak_mb": statistics.median(r["peak_mb"] for r in v)} for m, v in runs.items()}
    first = runs["candor"][0]
    print(f"volume {first['shape']} (z, y, x), patch {args.patch}³, overlap {args.overlap}, batch {args.batch}, "
          f"{args.threads} thread(s), {first['network']}, {args.repeats} run(s) each")
    print("| implementation | wall time (s, median) | CPU time (s, median) | peak extra memory (MB) |")
    print("| --- | --- | --- | --- |")
    for m, s in summary.items():
        print(f"| {'Candor sliding_window' if m == 'candor' else 'MONAI sliding_window_inference'} | "
              f"{s['seconds']:.2f} | {s['cpu_s']:.2f} | {s['peak_mb']:.0f} |")
    print(f"wall-time ratio Candor/MONAI: {summary['candor']['seconds'] / summary['monai']['seconds']:.2f}; "
          f"CPU-time ratio: {summary['candor']['cpu_s'] / summary['monai']['cpu_s']:.2f}; "
          f"memory ratio: {summary['candor']['peak_mb'] / max(summary['monai']['peak_mb'], 1e-6):.2f}; "
          f"max |difference| of the logits: {diff:.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
