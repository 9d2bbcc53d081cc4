"""``convgrad.distributed``, as ``torch.distributed``: collectives between processes, on MPI (mpi4py).

Launch with ``mpiexec -n N python script.py`` (where PyTorch uses ``torchrun``); every collective works on
the Tensor in place, as in PyTorch. mpi4py is imported by :func:`init_process_group` only, so this module
imports without it (``pip install 'convgrad[mpi]'`` installs mpi4py and an MPI library)."""

import enum
import sys
import traceback

import numpy as np

from convgrad.tensor import Tensor

__all__ = ["ReduceOp", "Work", "all_gather", "all_reduce", "barrier", "broadcast", "destroy_process_group",
           "get_backend", "get_rank", "get_world_size", "init_process_group", "is_available",
           "is_initialized", "is_mpi_available", "reduce"]

_INSTALL = "pip install 'convgrad[mpi]' (mpi4py and the MPICH library)"
_state = {"comm": None, "mpi": None}


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
    the rank and its traceback, so the other ranks do not wait for it forever."""
    op = "init_process_group"
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
    _state["comm"], _state["mpi"] = comm, MPI
    _install_abort_on_error(comm)


def _install_abort_on_error(comm):
    previous = sys.excepthook

    def abort(kind, value, tb):
        if _state["comm"] is None:  # destroyed: back to the plain behaviour
            return previous(kind, value, tb)
        sys.stderr.write(f"convgrad.distributed: rank {comm.Get_rank()} of {comm.Get_size()} raised "
                         f"{kind.__name__}: {value}; aborting the job\n")
        traceback.print_exception(kind, value, tb)
        sys.stderr.flush()
        comm.Abort(1)

    sys.excepthook = abort


def destroy_process_group(group=None):
    _comm("destroy_process_group", group)
    _state["comm"] = None


def _comm(op, group=None):
    if group is not None:
        raise NotImplementedError(f"{op}: expected group=None (the default group of all ranks), got "
                                  f"{group!r}: new_group is not supported in convgrad")
    comm = _state["comm"]
    if comm is None:
        raise RuntimeError(f"{op}: expected an initialized default process group, got none: call "
                           "convgrad.distributed.init_process_group('mpi') first")
    return comm


def get_rank(group=None):
    return _comm("get_rank", group).Get_rank()


def get_world_size(group=None):
    return _comm("get_world_size", group).Get_size()


def get_backend(group=None):
    _comm("get_backend", group)
    return "mpi"


class Work:
    """What ``async_op=True`` returns: ``wait()`` blocks until the collective is done."""

    def __init__(self, request=None, finish=None):
        self._request, self._finish = request, finish

    def wait(self, timeout=None):
        if self._request is not None:
            self._request.Wait()
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
    if async_op:
        return Work(comm.Iallreduce(_state["mpi"].IN_PLACE, buf, mpi_op), finish)
    comm.Allreduce(_state["mpi"].IN_PLACE, buf, mpi_op)
    finish()


def reduce(tensor, dst=0, op=ReduceOp.SUM, group=None, async_op=False):
    """Rank ``dst``'s ``tensor`` becomes the reduction of all ranks' tensors (the others' are unchanged)."""
    comm = _comm("reduce", group)
    _check_rank("reduce", "dst", dst, comm)
    mpi_op = _mpi_op("reduce", op)
    buf, back = _buffer("reduce", tensor)
    root = comm.Get_rank() == dst
    comm.Reduce(_state["mpi"].IN_PLACE if root else buf, buf if root else None, mpi_op, root=dst)
    if root:
        _after(buf, back, op, comm.Get_size())()
    return Work() if async_op else None


def broadcast(tensor, src=0, group=None, async_op=False):
    """Every rank's ``tensor`` becomes rank ``src``'s."""
    comm = _comm("broadcast", group)
    _check_rank("broadcast", "src", src, comm)
    buf, back = _buffer("broadcast", tensor)
    if async_op:
        return Work(comm.Ibcast(buf, root=src), back)
    comm.Bcast(buf, root=src)
    if back is not None:
        back()


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
    comm.Allgather(send, out)
    for t, part in zip(tensor_list, out):
        t._data[...] = part
    return Work() if async_op else None


def barrier(group=None, async_op=False, device_ids=None):
    _comm("barrier", group).Barrier()
    return Work() if async_op else None


def _check_rank(op, name, value, comm):
    if not isinstance(value, int) or not 0 <= value < comm.Get_size():
        raise ValueError(f"{op}: expected {name} to be a rank in [0, {comm.Get_size()}), got {value!r}")
