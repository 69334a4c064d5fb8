"""The connection to Ray: training's cross-fitting and batch scoring run on a cluster.

Ray is an existing engine for spreading Python work over machines; ImpactIQ uses it in two
places, with the same code on one laptop and on a cluster. EconML's DML and DR estimators run
each cross-fitting fold as a Ray task (their `use_ray`), the meta-learners' bootstrap refits and
`python -m impactiq score`'s chunks go through `map_in_order`. Every task is seeded exactly as
its single-machine twin, so results equal a run without Ray.

`ray` is imported here, and only when a caller asks for it: importing it takes about half a
second, which `import impactiq`, loading and scoring a saved model and the app's pages must not
pay (EconML imports it by itself when it is installed, so fitting a model pays it anyway).

Addresses: "auto" joins the cluster named by RAY_ADDRESS or one started on this machine with
`ray start`, else starts a local Ray on this machine's CPUs; "ray://HEAD:10001" reaches a
cluster's head through Ray Client (from outside the cluster); "HEAD:6379" is the head's GCS
address (from a machine inside the cluster). The driver's Python and Ray versions must be the
cluster's. To a cluster named by its address (or RAY_ADDRESS), ImpactIQ's own code is shipped
with the job (`runtime_env`); its dependencies (EconML, LightGBM, numba, pandas, ...) must be
installed there.
"""

from __future__ import annotations

import logging
import os
import re
import socket
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from impactiq.errors import ImpactIQError

AUTO = "auto"
RAY_CLIENT_PORT = 10001
GCS_PORT = 6379
# How long a cluster's port may take to answer. `ray.init` itself waits minutes on an address
# where nothing listens (measured: more than 200 s for a GCS address, 30 s for Ray Client), which
# reads as a hang; a plain TCP connection answers a refusal at once and a silent host in this time.
REACH_TIMEOUT_S = 5.0
# Tasks submitted ahead of the result being awaited, per CPU of the cluster: enough to keep
# every CPU busy while one result is collected, few enough that results do not pile up.
TASKS_PER_CPU = 2
_END = object()
_ADDRESS = re.compile(r"^(?P<client>ray://)?(?P<host>[A-Za-z0-9_.\-]+)(?::(?P<port>\d{1,5}))?$")
_HOW = (
    "Pass --ray auto for a Ray on this machine, or a running cluster's address: ray://HEAD:10001 "
    "(Ray Client, from outside the cluster) or HEAD:6379 (from inside it), after `ray start --head` "
    "on its head node."
)
_ANSWERED = (
    "Its port answered. If the cluster uses token authentication (what `ray start` does by default "
    "in Ray 2.60), set RAY_AUTH_MODE=token and give the cluster's token in RAY_AUTH_TOKEN or "
    "~/.ray/auth_token; the driver's Python and Ray versions must be the cluster's. "
)


def connect(address: str = AUTO) -> bool:
    """Connect this process to Ray at `address`; True when this call made the connection.

    A process already connected keeps its connection (False), so a notebook or a test that
    started Ray itself is used as it is. Errors the user can fix (no Ray installed, an address
    in the wrong form, nothing listening, a version or token mismatch) raise `ImpactIQError`
    naming the address and what to do.
    """
    ray = import_ray()
    if ray.is_initialized():
        return False
    target = _normalised(address)
    if target is None:
        # A Ray on this machine imports the driver's own files (Ray puts the driver's folder on
        # its workers' path), and with them numba's compiled tree walk cached beside them.
        init_address, runtime_env = _local_ray(), None
    else:
        _check_reachable(target, shown=address)
        init_address, runtime_env = target, _shipped_package()
    try:
        ray.init(
            address=init_address,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
            runtime_env=runtime_env,
        )
    except (ConnectionError, RuntimeError, ValueError) as error:
        hint = _ANSWERED if target is not None else ""
        raise ImpactIQError(f"Could not connect to Ray at '{address}': {error}. {hint}{_HOW}") from error
    return True


def disconnect() -> None:
    """Leave Ray: a local Ray this process started stops, a cluster keeps running."""
    import_ray().shutdown()


@contextmanager
def session(address: str | None) -> Iterator[None]:
    """Ray connected at `address` inside the block (nothing happens for None).

    Disconnects on leaving only when it made the connection, so a caller's own Ray stays up.
    """
    if address is None:
        yield
        return
    made = connect(address)
    try:
        yield
    finally:
        if made:
            disconnect()


def map_in_order(function: Callable, shared, items: Iterable) -> Iterator:
    """`function(shared, item)` for every item, run as Ray tasks; results come in the items' order.

    `shared` (a model, the training arrays) goes into Ray's object store once and every task
    reads it from there, instead of shipping it with each task. Tasks are submitted at most
    `TASKS_PER_CPU` per CPU of the cluster ahead of the result being awaited, so a long table's
    results reach the caller as they are ready rather than all at the end. Connects to "auto"
    when this process is not connected yet, as EconML's `use_ray` does.
    """
    ray = import_ray()
    connect(AUTO)
    task = ray.remote(function)
    shared_ref = ray.put(shared)
    window = max(2, TASKS_PER_CPU * int(ray.cluster_resources().get("CPU", 1)))
    items = iter(items)
    pending = deque()

    def submit() -> None:
        item = next(items, _END)
        if item is not _END:
            pending.append(task.remote(shared_ref, item))

    for _ in range(window):
        submit()
    try:
        while pending:
            try:
                result = ray.get(pending.popleft())
            except ray.exceptions.RayTaskError as error:
                # A problem the user can fix (a missing column) reads as it does without Ray.
                if isinstance(error.cause, ImpactIQError):
                    raise error.cause from None
                raise
            submit()
            yield result
    finally:
        # A caller that stops early (a failed write) leaves no work running on the cluster.
        for ref in pending:
            ray.cancel(ref)


def import_ray():
    """The `ray` module, or an `ImpactIQError` saying how to install it."""
    try:
        import ray
    except ImportError as error:
        raise ImpactIQError(
            "Ray is not installed, and --ray needs it: `pip install -r requirements.txt` (ray[client]==2.60.0) "
            "or `pip install 'impactiq[ray]'`."
        ) from error
    return ray


def _normalised(address: str) -> str | None:
    """`address` as `ray.init` takes it (None: find or start a local Ray), with default ports."""
    if address == AUTO:
        # Ray reads RAY_ADDRESS itself; it is checked here too, so a stale one fails fast.
        address = os.environ.get("RAY_ADDRESS", "").strip()
        if not address or address == AUTO:
            return None
    match = _ADDRESS.match(address.strip())
    if match is None:
        raise ImpactIQError(f"'{address}' is not a Ray address. {_HOW}")
    client = match["client"] is not None
    port = match["port"] or (RAY_CLIENT_PORT if client else GCS_PORT)
    return f"{'ray://' if client else ''}{match['host']}:{port}"


def _local_ray() -> str | None:
    """What `ray.init` is given for "auto" without RAY_ADDRESS.

    None joins the Ray that `ray start` recorded on this machine; "local" starts a new one when
    none was recorded or the recorded one no longer answers (a head ended by a signal leaves its
    address behind, and Ray would wait minutes on it before failing).
    """
    recorded = _recorded_cluster()
    if recorded is None:
        return "local"
    try:
        _reach(recorded)
    except OSError:
        return "local"
    return None


def _recorded_cluster() -> str | None:
    """The address `ray start` last recorded on this machine, where Ray itself looks (ray 2.60)."""
    from ray._private.utils import read_ray_address

    return read_ray_address()


def _reach(target: str) -> None:
    """Open and close a TCP connection to `target` ([ray://]host:port); OSError when none answers."""
    host, _, port = target.removeprefix("ray://").rpartition(":")
    with socket.create_connection((host, int(port)), timeout=REACH_TIMEOUT_S):
        pass


def _check_reachable(target: str, *, shown: str) -> None:
    """Refuse at once an address where nothing answers, rather than let `ray.init` wait minutes."""
    try:
        _reach(target)
    except OSError as error:
        host = target.removeprefix("ray://").rpartition(":")[0]
        reason = error.strerror or type(error).__name__
        if isinstance(error, socket.gaierror):
            reason = f"unknown host '{host}'"
        elif isinstance(error, TimeoutError):
            reason = f"no answer in {REACH_TIMEOUT_S:g} s"
        raise ImpactIQError(f"Cannot reach Ray at '{shown}' ({target}: {reason}). {_HOW}") from error


def _shipped_package() -> dict:
    """Ship this ImpactIQ to a cluster's workers with the job, so they run the driver's code.

    The workers then compile the tree walk once per node and package version (numba caches it
    beside the shipped files): some seconds on the first scoring run.
    """
    package = Path(__file__).resolve().parents[1]
    return {"py_modules": [str(package)], "excludes": ["__pycache__/"]}
