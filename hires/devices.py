"""The devices a render runs on, their memory, and the tf.distribute strategy that spans them.

``--devices`` picks them: ``all`` (every GPU, else the CPU), ``cpu``, ``gpu``, GPU indices such
as ``0,1``, or TensorFlow device names such as ``/cpu:0,/cpu:1``. With several devices the
tiles of each evaluation are spread over them with ``MirroredStrategy``; with ``TF_CONFIG`` set,
over every worker's devices with ``MultiWorkerMirroredStrategy`` (see the README).
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hires.errors import HiresError

if TYPE_CHECKING:
    import tensorflow as tf

# The share of a device's memory the planner lets a rung use: TensorFlow's allocator, the
# framework and fragmentation take the rest.
USABLE_FRACTION = 0.85
# What a GPU is assumed to hold when nothing says (nvidia-smi absent): a cautious figure.
ASSUMED_GPU_BYTES = 16 * 2**30


@dataclass(frozen=True)
class MachineOptions:
    """How a render uses this machine. Not part of what decides the picture, so a render
    resumed with other options (another GPU, a tile size) continues its checkpoint.

    Attributes:
        devices: the ``--devices`` value (see the module's docstring).
        memory_gb: each device's memory, instead of what the machine reports.
        tile_px: force tiles of this side on every rung large enough to be cut.
        xla: compile whole-image evaluations with XLA (faster and lighter on CPU, see the README).
    """

    devices: str = "all"
    memory_gb: float | None = None
    tile_px: int | None = None
    xla: bool = True


@dataclass(frozen=True)
class DeviceSet:
    """Devices for one render.

    Attributes:
        names: TensorFlow device names (``/gpu:0`` ...), one replica each.
        kind: "GPU" or "CPU".
        memory_bytes: memory of one device (for CPUs sharing RAM: their share of it).
        memory_source: where that figure came from, for ``--plan``.
        workers: hosts taking part (more than 1 only with ``TF_CONFIG``).
    """

    names: tuple[str, ...]
    kind: str
    memory_bytes: int
    memory_source: str
    workers: int = 1
    labels: tuple[str, ...] | None = None  # as --devices named them, where TensorFlow renumbered them

    @property
    def first(self) -> str:
        """The device that holds the picture, the optimiser's state and whole-image work."""
        return self.names[0]

    @property
    def budget_bytes(self) -> int:
        """What the planner may use on each device."""
        return int(self.memory_bytes * USABLE_FRACTION)

    @property
    def description(self) -> str:
        hosts = f" on each of {self.workers} workers" if self.workers > 1 else ""
        return (f"devices: {', '.join(self.labels or self.names)}{hosts}; {self.memory_bytes / 2**30:.1f} GiB each "
                f"({self.memory_source}), {USABLE_FRACTION:.0%} of it planned for")


def find_devices(spec: str = "all", *, memory_gb: float | None = None) -> DeviceSet:
    """The devices ``spec`` names, and their memory.

    Args:
        spec: see the module's docstring.
        memory_gb: each device's memory in GB (GiB), instead of what the machine reports.

    Raises:
        HiresError: for a device this machine does not have, or a bad memory figure.
    """
    import tensorflow as tf  # here, so that batch files and configs validate without loading it

    if memory_gb is not None and not 0 < memory_gb < 1e6:  # also refuses inf and nan
        raise HiresError(f"--memory-gb must be a number of GiB more than 0 (and below a million), not {memory_gb}")
    spec = spec.strip().lower()
    _hide_unchosen_gpus(spec)  # before the lists below, which start TensorFlow's runtime
    gpus = ([f"/gpu:{i}" for i in range(len(tf.config.list_physical_devices("GPU")))] if _RENUMBERED.hidden
            else [f"/gpu:{i}" for i in range(len(tf.config.list_logical_devices("GPU")))])
    cpus = [f"/cpu:{i}" for i in range(len(tf.config.list_logical_devices("CPU")))]
    names = _names(spec, gpus, cpus)
    kind = "GPU" if names[0].startswith("/gpu") else "CPU"
    if memory_gb is not None:
        memory, source = int(memory_gb * 2**30), "--memory-gb"
    elif kind == "GPU":
        memory, source = _gpu_memory([_index(name) for name in names])
    else:
        memory, source = _host_memory()
        memory //= len(names)  # logical CPU devices share the host's memory
    tf_names = tuple(_tf_name(name) for name in names)
    labels = tuple(names) if tf_names != tuple(names) else None
    return DeviceSet(tf_names, kind, memory, source, _workers(), labels)


@dataclass
class _Renumbering:
    """GPU index as this process first saw it -> TensorFlow's, once the GPUs not chosen are hidden."""

    hidden: bool = False
    indices: dict[int, int] = field(default_factory=dict)


_RENUMBERED = _Renumbering()


def _hide_unchosen_gpus(spec: str) -> None:
    """Keeps TensorFlow off the GPUs ``--devices`` leaves out.

    By default TensorFlow takes nearly all the memory of every GPU it sees, so ``--devices 1``
    would also fill GPU 0 (on a shared machine, someone else's card). Hiding is possible only
    before TensorFlow's runtime starts; after that (a later job of a batch, in one process) the
    placement in ``render`` still keeps the work on the chosen devices.
    """
    import tensorflow as tf

    chosen = _chosen_gpus(spec)
    if chosen is None or _workers() > 1 or _RENUMBERED.hidden:
        return
    physical = tf.config.list_physical_devices("GPU")  # does not start the runtime
    if not physical or any(index >= len(physical) for index in chosen):
        return  # nothing to hide, or a GPU find_devices refuses with the list of those there are
    try:
        tf.config.set_visible_devices([physical[index] for index in sorted(chosen)], "GPU")
    except RuntimeError:  # the runtime has started
        return
    _RENUMBERED.hidden = True
    _RENUMBERED.indices.update({index: rank for rank, index in enumerate(sorted(chosen))})


def _chosen_gpus(spec: str) -> list[int] | None:
    """GPU indices ``spec`` names: [] for CPUs alone, None for every GPU or a spec ``_names`` refuses."""
    if spec == "cpu":
        return []
    if spec in ("all", "gpu"):
        return None
    parts = [part.strip().lstrip("/") for part in spec.split(",")]
    if all(part.startswith("cpu:") for part in parts):
        return []
    indices = [part.removeprefix("gpu:") for part in parts]
    return [int(index) for index in indices] if all(index.isdigit() for index in indices) else None


def _index(name: str) -> int:
    return int(name.split(":")[1])


def _tf_name(name: str) -> str:
    """TensorFlow's name for a device as this process first numbered it."""
    if not name.startswith("/gpu") or not _RENUMBERED.hidden:
        return name
    if _index(name) not in _RENUMBERED.indices:
        raise HiresError(f"--devices: {name} was hidden from TensorFlow by an earlier render in this "
                         "process; run each set of --devices in its own process")
    return f"/gpu:{_RENUMBERED.indices[_index(name)]}"


def _names(spec: str, gpus: list[str], cpus: list[str]) -> list[str]:
    """Device names for a ``--devices`` value."""
    if spec == "all":
        return gpus or cpus[:1]
    if spec == "cpu":
        return cpus[:1]
    if spec == "gpu":
        if not gpus:
            raise HiresError("--devices gpu: TensorFlow sees no GPU on this machine; use --devices cpu")
        return gpus
    names = []
    for part in (p.strip() for p in spec.split(",")):
        name = f"/gpu:{part}" if part.isdigit() else ("/" + part.lstrip("/"))
        if name not in gpus + cpus:
            raise HiresError(f"--devices: no device {part!r} here; this machine has "
                             f"{', '.join(gpus + cpus)} (GPU indices such as 0,1 also work)")
        names.append(name)
    if len(set(names)) != len(names) or len({n.split(":")[0] for n in names}) > 1:
        raise HiresError(f"--devices {spec}: name each device once, all GPUs or all CPUs")
    return names


@dataclass(frozen=True)
class _Card:
    """One GPU as nvidia-smi lists it: its own index (PCI order), UUID and memory."""

    index: int
    uuid: str
    memory_bytes: int


def _gpu_memory(indices: list[int]) -> tuple[int, str]:
    """The least total memory of the GPUs CUDA numbers ``indices``, from nvidia-smi.

    nvidia-smi numbers cards in PCI order and ignores ``CUDA_VISIBLE_DEVICES``; CUDA numbers the
    cards that variable lists, fastest first unless ``CUDA_DEVICE_ORDER=PCI_BUS_ID``. A card is
    taken as the one meant only where that is certain (a UUID, PCI order, or cards all alike);
    otherwise the smallest card this process may be using, so that the plan is never too big.
    """
    cards = _list_cards()
    if not cards:
        return ASSUMED_GPU_BYTES, "assumed: nvidia-smi did not answer; give --memory-gb"
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    entries = [entry.strip() for entry in visible.split(",")] if visible else None
    if entries and any(entry.upper().startswith("MIG-") for entry in entries):
        return ASSUMED_GPU_BYTES, "assumed: nvidia-smi does not give a MIG slice's memory; give --memory-gb"
    ids = [entries[i] if entries and i < len(entries) else str(i) for i in indices]
    exact = os.environ.get("CUDA_DEVICE_ORDER") == "PCI_BUS_ID" or len({c.memory_bytes for c in cards}) == 1
    meant = [_card_for(cards, each, by_index=exact) for each in ids]
    if None not in meant:
        return min(card.memory_bytes for card in meant), "nvidia-smi"
    pool = [c for c in (_card_for(cards, e, by_index=True) for e in entries) if c] if entries else cards
    return min(card.memory_bytes for card in pool or cards), (
        "nvidia-smi, the smallest GPU this process may be using; set CUDA_DEVICE_ORDER=PCI_BUS_ID "
        "for each GPU's own")


def _card_for(cards: list[_Card], entry: str, *, by_index: bool) -> _Card | None:
    """The card a CUDA_VISIBLE_DEVICES entry (an index or a UUID, or its start) names."""
    if entry.isdigit():
        return next((c for c in cards if c.index == int(entry)), None) if by_index else None
    return next((c for c in cards if c.uuid.startswith(entry)), None) if entry else None


def _list_cards() -> list[_Card]:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=index,uuid,memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=20, check=True)
        rows = [[field.strip() for field in line.split(",")] for line in out.stdout.splitlines() if line.strip()]
        return [_Card(int(index), uuid, int(float(memory)) * 2**20) for index, uuid, memory in rows]
    except (OSError, subprocess.SubprocessError, ValueError):
        return []


def _host_memory() -> tuple[int, str]:
    """The memory available to a new process on this host, within its cgroup's limit if any."""
    memory, source = _available_ram()
    limited = cgroup_available()
    if limited is not None and limited < memory:
        # Under Slurm's --mem (or a container's limit) the node's free RAM is not ours to plan
        # for: exceeding the cgroup gets the render killed.
        return limited, "the memory limit of this job's cgroup (Slurm --mem, a container), less its use"
    return memory, source


def _available_ram() -> tuple[int, str]:
    try:
        with open("/proc/meminfo") as stream:
            for line in stream:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024, "available RAM"
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"), "installed RAM"


_NO_LIMIT = 2**60  # cgroup v1 writes "no limit" as a number near 2**63


def cgroup_available(root: Path = Path("/sys/fs/cgroup"), membership: Path = Path("/proc/self/cgroup")) -> int | None:
    """Bytes this process's cgroup may still use (its tightest memory limit, less its working set).

    Reads cgroup v2 (``memory.max``, ``memory.current``) or v1 (``memory.limit_in_bytes``,
    ``memory.usage_in_bytes``), from this process's cgroup up to the root, so a limit set on a
    parent (a Slurm job above its step) counts too. Reclaimable page cache (``inactive_file``)
    is not counted as used. None when no limit is set or none can be read.
    """
    try:
        lines = membership.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # v2: "0::/path"
            found = _tightest(root, path, "memory.max", "memory.current", "inactive_file")
        elif "memory" in controllers.split(","):
            found = _tightest(root / "memory", path, "memory.limit_in_bytes", "memory.usage_in_bytes",
                              "total_inactive_file")
        else:
            continue
        if found is not None:
            return found
    return None


def _tightest(base: Path, path: str, limit_name: str, usage_name: str, cache_name: str) -> int | None:
    """The least (limit - working set) over the cgroup at ``base/path`` and its parents."""
    best = None
    folder = base / path.lstrip("/")
    while True:
        limit = _read_number(folder / limit_name)
        if limit is not None and limit < _NO_LIMIT:
            used = (_read_number(folder / usage_name) or 0) - _stat_value(folder / "memory.stat", cache_name)
            room = max(0, limit - max(0, used))
            best = room if best is None else min(best, room)
        if folder == base or base not in folder.parents:
            return best
        folder = folder.parent


def _read_number(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None  # "max": no limit


def _stat_value(path: Path, name: str) -> int:
    try:
        for line in path.read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == name and value.strip().isdigit():
                return int(value)
    except OSError:
        pass
    return 0


def _tf_config() -> dict | None:
    """``TF_CONFIG`` as a dict, or None when it is not set."""
    config = os.environ.get("TF_CONFIG")
    if not config:
        return None
    try:
        parsed = json.loads(config)
        if not isinstance(parsed.get("cluster"), dict):
            raise KeyError("cluster")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise HiresError(f"TF_CONFIG is not the JSON tf.distribute expects ({exc}); see the README") from exc
    _check_task(parsed["cluster"], parsed.get("task"))
    return parsed


def _check_task(cluster: dict, task) -> None:
    """Refuses a cluster or task that would leave this process rendering alone and writing nothing."""
    def refuse(problem: str) -> HiresError:
        return HiresError(f"TF_CONFIG: {problem}; every process needs the same cluster and its own "
                          '"task": {"type": "worker", "index": N} with N from 0; see the README')

    for kind, hosts in cluster.items():
        if kind not in ("worker", "chief"):
            raise refuse(f'the cluster has "{kind}" tasks, and hires uses only "worker" and "chief"')
        if not isinstance(hosts, list) or not hosts:
            raise refuse(f'the cluster\'s "{kind}" is not a list of host:port addresses')
    if not isinstance(task, dict):
        raise refuse('there is no "task" saying which of the cluster\'s processes this is')
    kind, index = task.get("type"), task.get("index", 0)
    if isinstance(index, str) and index.isdigit():  # a shell script's "1" means what tf.distribute reads as 1
        index = int(index)
    if kind not in cluster:
        raise refuse(f'the task type is {kind!r}, and the cluster has {", ".join(map(repr, cluster))}')
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(cluster[kind]):
        raise refuse(f'task index {index!r} is not one of the cluster\'s {len(cluster[kind])} "{kind}" '
                     f"(0 to {len(cluster[kind]) - 1})")


def _workers() -> int:
    """Workers named by ``TF_CONFIG``, or 1."""
    config = _tf_config()
    if config is None:
        return 1
    cluster = config["cluster"]
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


_MULTI_WORKER: list = []  # the one MultiWorkerMirroredStrategy of this process, once made


def start_workers() -> None:
    """Joins the ``TF_CONFIG`` cluster, if there is one.

    Must run before TensorFlow does anything else in the process: the strategy configures the
    collective operations, which TensorFlow allows only at start-up.
    """
    import tensorflow as tf

    if _workers() > 1 and not _MULTI_WORKER:
        _MULTI_WORKER.append(tf.distribute.MultiWorkerMirroredStrategy())


def make_strategy(devices: DeviceSet) -> tf.distribute.Strategy | None:
    """The strategy that spreads tiles over ``devices``; None for one device on one host."""
    import tensorflow as tf

    if devices.workers > 1:
        start_workers()
        return _MULTI_WORKER[0]
    if len(devices.names) > 1:
        return tf.distribute.MirroredStrategy(list(devices.names))
    return None


def is_chief() -> bool:
    """Whether this process writes files: always, except on the non-chief workers of ``TF_CONFIG``."""
    config = _tf_config()
    if config is None:
        return True
    task = config.get("task", {})
    if "chief" in config["cluster"]:
        return task.get("type") == "chief"
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0
