"""``convgrad.distributed``, as ``torch.distributed``: collectives between processes, on MPI (mpi4py).

Launch with ``mpiexec -n N python script.py`` (where PyTorch uses ``torchrun``); every collective works on
the Tensor in place, as in PyTorch. mpi4py is imported by :func:`init_process_group` only, so this module
imports without it (``pip install 'convgrad[mpi]'`` installs mpi4py and an MPI library)."""

import datetime
import enum
import math
import os
import pickle
import sys
import time
import traceback

import numpy as np

from convgrad.tensor import Tensor

__all__ = ["GroupMember", "ProcessGroup", "ReduceOp", "Work", "all_gather", "all_gather_object",
           "all_reduce", "barrier", "broadcast", "destroy_process_group", "get_backend", "get_global_rank",
           "get_process_group_ranks", "get_rank", "get_world_size", "init_process_group", "is_available",
           "is_initialized", "is_mpi_available", "new_group", "reduce"]

_INSTALL = "pip install 'convgrad[mpi]' (mpi4py and the MPICH library)"
_TIMEOUT_ENV = "CONVGRAD_DIST_TIMEOUT"
_DEFAULT_TIMEOUT = 1800.0  # seconds, as PyTorch's default for its non-NCCL backends
_state = {"comm": None, "mpi": None, "timeout": _DEFAULT_TIMEOUT}


class ReduceOp(enum.Enum):
    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MAX = "max"
    MIN = "min"


def is_available():
    """True: the collectives exist (whether MPI is installed is :func:`is_mpi_available`)."""
    return True


def is_mpi_available():
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def is_initialized():
    return _state["comm"] is not None


def init_process_group(backend="mpi", init_method=None, timeout=None, world_size=-1, rank=-1,
                       store=None, group_name="", pg_options=None, device_id=None):
    """Join the MPI job this process was started in (``mpiexec -n N``): rank and world size come from MPI.

    After it, an exception no code catches in any rank aborts the whole job (``MPI_Abort``) after printing
    the rank and its traceback, so the other ranks do not wait for it forever. ``timeout`` (a
    ``datetime.timedelta``; default the ``CONVGRAD_DIST_TIMEOUT`` environment variable in seconds, else 30
    minutes) bounds every collective: one that has not completed by then (a rank stuck or gone) aborts the
    job with a message naming the operation, the rank and the timeout."""
    op = "init_process_group"
    seconds = _timeout_seconds(op, timeout)
    if backend not in (None, "mpi"):
        raise RuntimeError(f"{op}: expected backend 'mpi', got {backend!r}: convgrad's processes talk over "
                           "MPI (launch with mpiexec -n N)")
    if is_initialized():
        raise RuntimeError(f"{op}: expected one call per process, got a second one (the default process "
                           "group is already initialized)")
    try:
        from mpi4py import MPI
    except ImportError:
        raise RuntimeError(f"{op}: expected mpi4py and an MPI library, got none installed: "
                           f"{_INSTALL}") from None
    comm = MPI.COMM_WORLD
    for name, given, actual in (("world_size", world_size, comm.Get_size()), ("rank", rank, comm.Get_rank())):
        if given is not None and given != -1 and given != actual:
            raise RuntimeError(f"{op}: expected {name}={actual} (MPI's), got {name}={given}")
    _state["comm"], _state["mpi"], _state["timeout"] = comm, MPI, seconds
    _install_abort_on_error(comm)


def _timeout_seconds(op, timeout):
    if timeout is None:
        text = os.environ.get(_TIMEOUT_ENV, "").strip()
        if not text:
            return _DEFAULT_TIMEOUT
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{op}: expected {_TIMEOUT_ENV} to be a positive number of seconds, "
                             f"got {text!r}")
        return value
    if not isinstance(timeout, datetime.timedelta) or not timeout.total_seconds() > 0:
        raise ValueError(f"{op}: expected timeout to be a positive datetime.timedelta, got {timeout!r}")
    return timeout.total_seconds()


def _wait(request, op):
    """Wait for a non-blocking MPI request, polling with ``Test`` (which also moves MPI's progress engine)
    and sleeping a little longer each time, up to 1 ms; past the process group's timeout, abort the job:
    a collective cannot be cancelled, and a rank left waiting would hang forever."""
    if request.Test():
        return
    deadline = time.monotonic() + _state["timeout"]
    pause = 1e-5
    while not request.Test():
        if time.monotonic() > deadline:
            _abort_on_timeout(op)
        time.sleep(pause)
        pause = min(2 * pause, 1e-3)


def _abort_on_timeout(op):
    comm = _state["comm"]
    limit = datetime.timedelta(seconds=_state["timeout"])
    sys.stderr.write(f"convgrad.distributed: rank {comm.Get_rank()} of {comm.Get_size()}: {op}: expected the "
                     f"collective to complete within the timeout of {limit} (init_process_group(timeout=...) "
                     f"or {_TIMEOUT_ENV}), got no answer from at least one rank (stuck or gone); aborting "
                     "the job\n")
    _abort(comm)


def _abort(comm, code=1):
    """End every rank. The launcher forwards a rank's stderr through a pipe that MPI_Abort may close first:
    a moment's wait lets the message just written reach the user."""
    sys.stderr.flush()
    time.sleep(0.5)
    comm.Abort(code)


def _install_abort_on_error(comm):
    previous = sys.excepthook

    def abort(kind, value, tb):
        if _state["comm"] is None:  # destroyed: back to the plain behaviour
            return previous(kind, value, tb)
        sys.stderr.write(f"convgrad.distributed: rank {comm.Get_rank()} of {comm.Get_size()} raised "
                         f"{kind.__name__}: {value}; aborting the job\n")
        traceback.print_exception(kind, value, tb)
        _abort(comm)

    sys.excepthook = abort


class ProcessGroup:
    """A subset of the ranks (:func:`new_group`): an MPI communicator of its own. Collectives given
    ``group=`` run among its members only; ``src``/``dst`` stay global ranks, as in PyTorch."""

    def __init__(self, comm, ranks):
        self._comm, self._ranks = comm, list(ranks)

    def rank(self):
        return self._comm.Get_rank()

    def size(self):
        return self._comm.Get_size()

    def __repr__(self):
        return f"ProcessGroup(ranks={self._ranks})"


class GroupMember:
    """``WORLD``: the default group (None); ``NON_GROUP_MEMBER``: what :func:`new_group` returns on a rank
    that is not in the new group."""

    WORLD = None
    NON_GROUP_MEMBER = object()


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization=False,
              group_desc=None, device_id=None):
    """A process group of the global ranks ``ranks`` (default: all), as ``torch.distributed.new_group``.
    Every rank calls it, with the same ``ranks``; a rank outside gets ``GroupMember.NON_GROUP_MEMBER``. The
    members build the communicator with ``MPI_Comm_create_group`` (a collective among them only)."""
    op = "new_group"
    world = _comm(op)
    size = world.Get_size()
    members = list(range(size)) if ranks is None else list(ranks)
    valid = all(isinstance(r, int) and not isinstance(r, bool) and 0 <= r < size for r in members)
    if not members or not valid or len(set(members)) != len(members):
        raise ValueError(f"{op}: expected ranks to be distinct global ranks in [0, {size}), got {ranks!r}")
    if backend not in (None, "mpi"):
        raise RuntimeError(f"{op}: expected backend 'mpi', got {backend!r}")
    members = sorted(members)
    if timeout is not None:
        _timeout_seconds(op, timeout)  # the check only: every group shares init_process_group's timeout
    if world.Get_rank() not in members:
        return GroupMember.NON_GROUP_MEMBER
    _state["groups"] = _state.get("groups", 0) + 1  # the same count on every member: a tag of its own
    sub = world.Create_group(world.Get_group().Incl(members), tag=_state["groups"])
    return ProcessGroup(sub, members)


def get_process_group_ranks(group):
    """The global ranks of ``group``'s members, in group-rank order."""
    if group is None:
        return list(range(get_world_size()))
    return list(_group("get_process_group_ranks", group)._ranks)


def get_global_rank(group, group_rank):
    ranks = get_process_group_ranks(group)
    if not isinstance(group_rank, int) or not 0 <= group_rank < len(ranks):
        raise ValueError(f"get_global_rank: expected a group rank in [0, {len(ranks)}), got {group_rank!r}")
    return ranks[group_rank]


def destroy_process_group(group=None):
    """``group=None``: leave the default group (every group with it); else free that group's communicator."""
    if group is not None:
        g = _group("destroy_process_group", group)
        if g._comm is not None:
            g._comm.Free()
            g._comm = None
        return
    _comm("destroy_process_group")
    _state["comm"] = None


def _group(op, group):
    if group is GroupMember.NON_GROUP_MEMBER:
        raise RuntimeError(f"{op}: expected a group this rank belongs to, got GroupMember.NON_GROUP_MEMBER "
                           f"(rank {get_rank()} is not among the ranks given to new_group)")
    if not isinstance(group, ProcessGroup):
        raise TypeError(f"{op}: expected group to be None or a group from new_group, got "
                        f"{type(group).__name__}")
    if group._comm is None:
        raise RuntimeError(f"{op}: expected a live group, got {group!r} after destroy_process_group(group)")
    return group


def _comm(op, group=None):
    comm = _state["comm"]
    if comm is None:
        raise RuntimeError(f"{op}: expected an initialized default process group, got none: call "
                           "convgrad.distributed.init_process_group('mpi') first")
    if group is not None:
        return _group(op, group)._comm
    return comm


def get_rank(group=None):
    """This process's rank in ``group`` (the default group: its global rank); -1 outside the group."""
    if group is GroupMember.NON_GROUP_MEMBER:
        _comm("get_rank")
        return -1
    return _comm("get_rank", group).Get_rank()


def get_world_size(group=None):
    if group is GroupMember.NON_GROUP_MEMBER:
        _comm("get_world_size")
        return -1
    return _comm("get_world_size", group).Get_size()


def get_backend(group=None):
    _comm("get_backend", group)
    return "mpi"


class Work:
    """What ``async_op=True`` returns: ``wait()`` blocks until the collective is done."""

    def __init__(self, request=None, finish=None, op="collective"):
        self._request, self._finish, self._op = request, finish, op

    def wait(self, timeout=None):
        if self._request is not None:
            _wait(self._request, self._op)
            self._request = None
            if self._finish is not None:
                self._finish()
        return True

    def is_completed(self):
        return self._request is None or self._request.Test()


def _buffer(op, tensor):
    """(array MPI works on, function writing it back into the tensor): the tensor's own array when it is
    contiguous, else a contiguous copy."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(tensor).__name__}")
    arr = tensor._data
    if arr.flags.c_contiguous and arr.flags.writeable:
        return arr, None
    buf = np.ascontiguousarray(arr)

    def back():
        tensor._data[...] = buf
    return buf, back


def _mpi_op(op, reduce_op):
    MPI = _state["mpi"]
    ops = {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
           ReduceOp.MAX: MPI.MAX, ReduceOp.MIN: MPI.MIN}
    if reduce_op not in ops:
        raise ValueError(f"{op}: expected a ReduceOp (SUM, AVG, PRODUCT, MAX, MIN), got {reduce_op!r}")
    return ops[reduce_op]


def _after(buf, back, reduce_op, size):
    def finish():
        if reduce_op is ReduceOp.AVG:
            if buf.dtype.kind in "iub":
                np.floor_divide(buf, size, out=buf)
            else:
                np.divide(buf, size, out=buf)
        if back is not None:
            back()
    return finish


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Every rank's ``tensor`` becomes the reduction (sum, average, max, ...) of all ranks' tensors."""
    comm = _comm("all_reduce", group)
    mpi_op = _mpi_op("all_reduce", op)
    buf, back = _buffer("all_reduce", tensor)
    finish = _after(buf, back, op, comm.Get_size())
    work = Work(comm.Iallreduce(_state["mpi"].IN_PLACE, buf, mpi_op), finish, "all_reduce")
    if async_op:
        return work
    work.wait()


def reduce(tensor, dst=0, op=ReduceOp.SUM, group=None, async_op=False):
    """Rank ``dst``'s ``tensor`` becomes the reduction of all ranks' tensors (the others' are unchanged)."""
    comm = _comm("reduce", group)
    dst = _check_rank("reduce", "dst", dst, group)
    mpi_op = _mpi_op("reduce", op)
    buf, back = _buffer("reduce", tensor)
    root = comm.Get_rank() == dst
    _wait(comm.Ireduce(_state["mpi"].IN_PLACE if root else buf, buf if root else None, mpi_op, root=dst),
          "reduce")
    if root:
        _after(buf, back, op, comm.Get_size())()
    return Work() if async_op else None


def broadcast(tensor, src=0, group=None, async_op=False):
    """Every rank's ``tensor`` becomes rank ``src``'s."""
    comm = _comm("broadcast", group)
    src = _check_rank("broadcast", "src", src, group)
    buf, back = _buffer("broadcast", tensor)
    work = Work(comm.Ibcast(buf, root=src), back, "broadcast")
    if async_op:
        return work
    work.wait()


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """``tensor_list[r]`` becomes rank ``r``'s ``tensor``, on every rank."""
    op = "all_gather"
    comm = _comm(op, group)
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: expected tensor to be a Tensor, got {type(tensor).__name__}")
    n = comm.Get_size()
    if not isinstance(tensor_list, list) or len(tensor_list) != n:
        got = len(tensor_list) if isinstance(tensor_list, list) else type(tensor_list).__name__
        raise ValueError(f"{op}: expected tensor_list to be a list of world_size={n} Tensors, got {got}")
    for i, t in enumerate(tensor_list):
        if not isinstance(t, Tensor) or t.shape != tensor.shape or t.dtype != tensor.dtype:
            got = (tuple(t.shape), t.dtype) if isinstance(t, Tensor) else type(t).__name__
            raise ValueError(f"{op}: expected tensor_list[{i}] of shape {tuple(tensor.shape)} and dtype "
                             f"{tensor.dtype}, got {got}")
    send = np.ascontiguousarray(tensor._data)
    out = np.empty((n,) + send.shape, send.dtype)
    _wait(comm.Iallgather(send, out), op)
    for t, part in zip(tensor_list, out):
        t._data[...] = part
    return Work() if async_op else None


def barrier(group=None, async_op=False, device_ids=None):
    """Return once every rank has called it."""
    work = Work(_comm("barrier", group).Ibarrier(), None, "barrier")
    if async_op:
        return work
    work.wait()


def all_gather_object(object_list, obj, group=None):
    """``object_list[r]`` becomes rank ``r``'s ``obj`` (any picklable object), on every rank."""
    op = "all_gather_object"
    comm = _comm(op, group)
    n = comm.Get_size()
    if not isinstance(object_list, list) or len(object_list) != n:
        got = len(object_list) if isinstance(object_list, list) else type(object_list).__name__
        raise ValueError(f"{op}: expected object_list to be a list of world_size={n} entries, got {got}")
    mine = np.frombuffer(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL), np.uint8)
    sizes = np.empty(n, np.int64)
    _wait(comm.Iallgather(np.array([mine.size], np.int64), sizes), op)
    every = np.empty(int(sizes.sum()), np.uint8)
    _wait(comm.Iallgatherv(mine, [every, sizes]), op)
    ends = np.cumsum(sizes)
    for r in range(n):
        object_list[r] = pickle.loads(every[ends[r] - sizes[r]:ends[r]].tobytes())


def _allreduce_array(array, comm, op):
    """Sum a contiguous NumPy array over the ranks of ``comm``, in place (for layers that reduce arrays)."""
    _wait(comm.Iallreduce(_state["mpi"].IN_PLACE, array, _state["mpi"].SUM), op)
    return array


def _check_rank(op, name, value, group):
    """The rank in ``group`` of global rank ``value`` (PyTorch's src and dst are global ranks)."""
    ranks = get_process_group_ranks(group)
    if isinstance(value, bool) or not isinstance(value, int) or value not in ranks:
        where = f"in [0, {len(ranks)})" if group is None else f"among the group's ranks {ranks}"
        raise ValueError(f"{op}: expected {name} to be a global rank {where}, got {value!r}")
    return ranks.index(value)
