"""Honest timing on CUDA and CPU: synchronise, warm up, median of repeats, flush the L2 cache
between repeats (an H100 has 50 MB of L2, more than most single layers), and the environment
record that goes into every JSON file."""

from __future__ import annotations

import os
import platform
import statistics
import time
from contextlib import contextmanager

import torch

__all__ = ["Timer", "environment", "copy_bandwidth", "no_tf32"]


class Timer:
    """``Timer(device).measure(fn, repeats=, warmup=)`` -> median seconds of ``fn()``.

    CUDA: each repeat is bracketed by CUDA events after an L2 flush (writing a buffer twice the
    L2 size), so no repeat starts with the previous repeat's data in cache; ``fn`` may return
    without synchronising. CPU: ``perf_counter`` around ``fn()``.
    """

    def __init__(self, device: str | torch.device):
        self.device = torch.device(device)
        self.cuda = self.device.type == "cuda"
        if self.cuda:
            l2 = getattr(torch.cuda.get_device_properties(self.device), "L2_cache_size", 50 << 20)
            self._flush = torch.empty(max(2 * l2, 64 << 20) // 4, dtype=torch.float32, device=self.device)

    def flush(self):
        if self.cuda:
            self._flush.zero_()

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def measure(self, fn, *, repeats: int = 5, warmup: int = 1, flush: bool = True) -> dict:
        """Run ``fn`` ``warmup`` times, then ``repeats`` timed times; returns
        ``{"median": s, "min": s, "times": [...]}``."""
        for _ in range(warmup):
            fn()
        self.sync()
        times = []
        for _ in range(repeats):
            if flush:
                self.flush()
            if self.cuda:
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end) / 1e3)
            else:
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
        return {"median": statistics.median(times), "min": min(times), "times": times}


def copy_bandwidth(device, *, nbytes: int = 1 << 30, repeats: int = 5) -> float:
    """Measured device-to-device copy bandwidth in bytes/s (bytes read + written)."""
    dev = torch.device(device)
    if dev.type == "cpu":
        nbytes = min(nbytes, 1 << 26)
    a = torch.ones(nbytes // 4, dtype=torch.float32, device=dev)
    b = torch.empty_like(a)
    t = Timer(dev).measure(lambda: b.copy_(a), repeats=repeats, warmup=2, flush=False)
    return 2 * nbytes / t["median"]


@contextmanager
def no_tf32():
    """TF32 off (full fp32 matmuls) inside the block: used wherever accuracy is measured."""
    old = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


def environment(device) -> dict:
    """Device name, versions and settings for the JSON record."""
    dev = torch.device(device)
    env = {"device": dev.type, "torch": torch.__version__, "cuda": torch.version.cuda,
           "python": platform.python_version(), "platform": platform.platform(),
           "tf32_matmul": torch.backends.cuda.matmul.allow_tf32, "tf32_cudnn": torch.backends.cudnn.allow_tf32}
    if dev.type == "cuda":
        p = torch.cuda.get_device_properties(dev)
        env.update(device_name=p.name, sm_count=p.multi_processor_count,
                   l2_bytes=getattr(p, "L2_cache_size", None), memory_bytes=p.total_memory,
                   cudnn=torch.backends.cudnn.version())
    else:
        env.update(device_name=_cpu_model() or platform.processor() or platform.machine(),
                   threads=torch.get_num_threads(), logical_cpus=os.cpu_count())
    env["code_version"] = _code_version()
    return env


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def _code_version() -> str | None:
    """``git describe --always --dirty`` of the package's checkout, or None outside one."""
    import subprocess
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=os.path.dirname(__file__),
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None
