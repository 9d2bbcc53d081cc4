"""``convgrad train`` on several processes: under ``mpiexec -n N`` (each rank runs the command; DDP,
DistributedSampler, rank 0 writes the run folder) or with ``--nproc N``, which starts that ``mpiexec`` itself.

The processes of an MPI job are recognised by the launcher's environment (``PMI_SIZE`` from MPICH's
Hydra, ``OMPI_COMM_WORLD_SIZE`` from Open MPI), so a plain ``convgrad train`` never loads MPI."""

import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig

from convgrad.cli.common import CLIError

_INSTALL = "pip install 'convgrad[mpi]'"
_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MV2_COMM_WORLD_SIZE")


def launched_size():
    """The number of processes of the MPI job this one was started in by ``mpiexec`` (1 when not)."""
    for name in _SIZE_VARS:
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


def join():
    """(rank, world size): the process group initialised when this process is one of several MPI ranks."""
    from convgrad import distributed as dist

    if launched_size() < 2:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group("mpi")
    return dist.get_rank(), dist.get_world_size()


def end_job(code):
    """After an error was printed in one rank: end every rank (the others would wait for it at their next
    collective until the timeout)."""
    from convgrad import distributed as dist

    if dist.is_initialized() and dist.get_world_size() > 1:
        dist._abort(dist._state["comm"], code)


def threads_per_rank(world, model_default):
    """BLAS threads for each of ``world`` ranks: the cores shared out (at least 1), no more than the model's
    own default when it has one."""
    from convgrad.env import _cores

    share = max(1, (_cores() or 1) // world)
    return min(share, model_default) if model_default else share


def find_mpiexec():
    """The ``mpiexec`` of this Python's MPI install: beside the interpreter (the MPICH wheel puts it in the
    venv's bin), in the scripts folder, in mpi4py's build configuration, else on PATH; None if none."""
    places = [pathlib.Path(sys.executable).parent, pathlib.Path(sysconfig.get_path("scripts"))]
    try:
        import mpi4py

        places += [pathlib.Path(v).parent for v in mpi4py.get_config().values() if os.path.isabs(str(v))]
    except ImportError:
        pass
    for folder in places:
        candidate = folder / "mpiexec"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("mpiexec")


def _without_nproc(argv):
    """The command line with its ``--nproc N`` (also ``--nproc=N`` and argparse's abbreviations) left out."""
    out, skip = [], False
    for token in argv:
        if skip:
            skip = False
            continue
        name = token.split("=", 1)[0]
        if len(name) >= 4 and "--nproc".startswith(name):
            skip = "=" not in token
            continue
        out.append(token)
    return out


def relaunch(nproc, argv):
    """Run ``mpiexec -n nproc python -m convgrad ARGV`` (ARGV without ``--nproc``); its exit code."""
    if launched_size() > 1:
        raise CLIError(f"--nproc: expected a single process, got one of {launched_size()} MPI ranks already "
                       "(give either mpiexec -n N or --nproc N, not both)")
    mpiexec = find_mpiexec()
    if mpiexec is None:
        raise CLIError(f"--nproc {nproc}: expected MPI's mpiexec beside {sys.executable} or on PATH, got "
                       f"none: {_INSTALL} installs mpi4py and MPICH (with its mpiexec)")
    cmd = [mpiexec, "-n", str(nproc), sys.executable, "-m", "convgrad", *_without_nproc(argv)]
    proc = subprocess.Popen(cmd)
    try:
        code = proc.wait()
    except KeyboardInterrupt:  # the terminal's interrupt reached mpiexec too: give it time to end the ranks
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.terminate()
            code = proc.wait()
    if code:
        print(f"convgrad train --nproc {nproc}: error: the job of {nproc} processes ended with exit code "
              f"{code} (the messages above say which rank failed and why)", file=sys.stderr)
    return code
