"""Training checkpoints: one file holding everything a run needs to continue exactly where it was (model,
optimiser, scheduler, epoch, step, position inside the epoch, random number generator states, metrics so far,
callback states), written so that a crash or a kill at any moment leaves the previous checkpoint intact.

The write is the classic atomic-replace: serialise with ``convgrad.save`` into a temporary file in the same
folder, flush and ``fsync`` it, ``os.replace`` it over the old file (atomic on POSIX), then ``fsync`` the
folder so the rename itself survives a power cut. A reader therefore sees either the old or the new file,
never half of one.
"""

import io
import os

from convgrad.serialization import _atomic_write

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
    """Write ``data`` to ``path`` so that ``path`` holds either its old content or all of ``data``
    (``convgrad.save``'s writer: temporary file, fsync, rename, fsync of the folder; temporary files a
    killed writer left behind are removed). ``_pause`` is the test hook above."""
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    _atomic_write(path, data, pause=f"half:*:0:{_pause}" if _pause else None)


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
    version = state.get("version", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        raise CheckpointError(f"'{path}' is damaged: expected an integer checkpoint version, got {version!r}")
    if version > VERSION:
        raise CheckpointError(
            f"'{path}' is a training checkpoint of version {state['version']}; this convgrad reads up to "
            f"version {VERSION}"
        )
    return state


def is_checkpoint(state):
    return isinstance(state, dict) and state.get("format") == FORMAT


def _position(state):
    """(epochs completed, batches done in the next epoch) recorded in a training checkpoint."""
    t = state.get("trainer") or {}
    return int(t.get("epoch", 0)), int(t.get("batch_in_epoch", 0))


def _recorded_best_epoch(state, key="ModelCheckpoint"):
    entry = (state.get("callbacks") or {}).get(key) or {}
    best = entry.get("best_epoch")
    return int(best) if best is not None else None


def _epoch_of(path):
    """Epochs completed in the checkpoint at ``path``, or None when it is missing or unreadable."""
    try:
        epoch, batch = _position(load_checkpoint(path))
    except (CheckpointError, TypeError, ValueError):
        return None
    return epoch if batch == 0 else None


def best_checkpoint(folder, last_name="last.pt", best_name="best.pt"):
    """The checkpoint in run folder ``folder`` that holds the best epoch's weights.

    ``ModelCheckpoint`` writes ``last.pt`` before ``best.pt``, and ``last.pt`` records the best epoch. If a
    kill landed between the two writes of an improving epoch, ``best.pt`` is older than that record while
    ``last.pt`` is the best epoch itself: ``last.pt`` is then the answer (a resumed run also repairs
    ``best.pt``). Without ``last.pt`` or a record, ``best.pt`` if it exists, else ``last.pt``."""
    last, best = os.path.join(folder, last_name), os.path.join(folder, best_name)
    if not os.path.exists(last):
        return best if os.path.exists(best) else last
    try:
        state = load_checkpoint(last)
        recorded = _recorded_best_epoch(state)
        position = _position(state)
    except (CheckpointError, TypeError, ValueError):
        return best if os.path.exists(best) else last
    if recorded is None:
        return best if os.path.exists(best) else last
    best_epoch = _epoch_of(best)
    if best_epoch is not None and best_epoch >= recorded:
        return best
    if position == (recorded, 0):
        return last
    return best if os.path.exists(best) else last
