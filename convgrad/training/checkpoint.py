"""Training checkpoints: one file holding everything a run needs to continue exactly where it was (model,
optimiser, scheduler, epoch, step, position inside the epoch, random number generator states, metrics so far,
callback states), written so that a crash or a kill at any moment leaves the previous checkpoint intact.

The write is the classic atomic-replace: serialise with ``convgrad.save`` into a temporary file in the same
folder, flush and ``fsync`` it, ``os.replace`` it over the old file (atomic on POSIX), then ``fsync`` the
folder so the rename itself survives a power cut. A reader therefore sees either the old or the new file,
never half of one.
"""

import glob
import io
import os
import tempfile
import time

from convgrad.serialization import _fsync_dir, _umask

FORMAT = "convgrad.training.checkpoint"
VERSION = 1

# Test hook (used by tests/test_checkpoint_kill.py): when set to a path, a checkpoint write that replaces an
# existing checkpoint stops half-way through the temporary file, creates that path and sleeps, so a test can
# SIGKILL the process mid-write.
_PAUSE_ENV = "CONVGRAD_TEST_PAUSE_IN_CHECKPOINT_WRITE"


class CheckpointError(RuntimeError):
    """A file that is missing, unreadable or not a convgrad training checkpoint."""


def _serialize(obj):
    """``convgrad.save`` of ``obj`` into bytes."""
    import convgrad

    buf = io.BytesIO()
    convgrad.save(obj, buf)
    return buf.getvalue()


def atomic_write_bytes(path, data, _pause=None):
    """Write ``data`` to ``path`` so that ``path`` holds either its old content or all of ``data``.

    ``convgrad.save(obj, path)`` writes atomically too; this one also clears temporary files a killed
    writer left behind, and has the test hook above."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    base = os.path.basename(path)
    # temporary files left behind by a writer that was killed
    for stale in glob.glob(os.path.join(glob.escape(folder), f".{glob.escape(base)}.*.tmp")):
        try:
            os.remove(stale)
        except OSError:
            pass
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp", dir=folder)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; give it the mode a new file gets
    try:
        with os.fdopen(fd, "wb") as f:
            if _pause:
                half = len(data) // 2
                f.write(data[:half])
                f.flush()
                os.fsync(f.fileno())
                with open(_pause, "w") as flag:
                    flag.write(tmp)
                time.sleep(3600)
                f.write(data[half:])
            else:
                f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(folder)


def atomic_write_text(path, text):
    atomic_write_bytes(path, text.encode("utf-8"))


def save_checkpoint(state, path):
    """Write a training checkpoint: ``state`` (a dict) tagged with the checkpoint format and version."""
    state = dict(state)
    state["format"] = FORMAT
    state["version"] = VERSION
    pause = os.environ.get(_PAUSE_ENV) if os.path.exists(path) else None
    atomic_write_bytes(path, _serialize(state), _pause=pause)


def load_checkpoint(path):
    """Read a training checkpoint written by :func:`save_checkpoint`; a clear :class:`CheckpointError` for
    a missing file, a file convgrad cannot read, or a convgrad file that is not a training checkpoint."""
    import convgrad

    path = os.fspath(path)
    if not os.path.exists(path):
        raise CheckpointError(f"checkpoint '{path}' does not exist")
    if os.path.isdir(path):
        raise CheckpointError(f"checkpoint '{path}' is a folder; pass the checkpoint file inside it "
                              f"(e.g. {os.path.join(path, 'last.pt')})")
    try:
        state = convgrad.load(path)
    except Exception as e:
        raise CheckpointError(
            f"'{path}' is not a convgrad checkpoint: it could not be read ({type(e).__name__}: {e})"
        ) from e
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        what = "a state_dict" if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(
            f"'{path}' is a convgrad file ({what}) but not a training checkpoint (no format '{FORMAT}'); "
            "a saved state_dict loads with model.load_state_dict(convgrad.load(path))"
        )
    if int(state.get("version", 0)) > VERSION:
        raise CheckpointError(
            f"'{path}' is a training checkpoint of version {state['version']}; this convgrad reads up to "
            f"version {VERSION}"
        )
    return state


def is_checkpoint(state):
    return isinstance(state, dict) and state.get("format") == FORMAT
