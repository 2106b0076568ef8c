"""Errors a user can act on.

Every error moranb raises on bad input is a `MoranbError`: its message is one line that names the problem and the
fix. The commands (`moranb`, `python -m moranb.demo`, `python -m moranb.suite`) print that line instead of a
traceback, through `run_main`.
"""

import sys


class MoranbError(Exception):
    """Base class: a problem the user can fix, described in one line."""


class InputError(MoranbError, ValueError):
    """An argument is empty, of the wrong type or out of range."""


class ResolutionError(InputError):
    """A width or height the model cannot take."""


class VideoReadError(MoranbError, ValueError):
    """A video or image file that does not exist or cannot be decoded."""


class OutputDirError(MoranbError, OSError):
    """An output directory that cannot be created or written."""


class ModelNotAvailableError(MoranbError, OSError):
    """A model id that is neither a local directory nor in the local Hugging Face cache."""


class BackendError(MoranbError, RuntimeError):
    """A prompt backend (an HTTP endpoint, say) that did not answer as expected."""


class GPUMemoryError(MoranbError, RuntimeError):
    """The GPU ran out of memory in a stage."""


class DeviceError(MoranbError, RuntimeError):
    """The profile asks for a device this machine does not have."""


class DatasetError(MoranbError, ValueError):
    """A training dataset that is missing, empty or whose files are gone."""


class CheckpointError(MoranbError, ValueError):
    """A fine-tuning checkpoint or adapter made for another profile, model or configuration."""


class TrainingError(MoranbError, RuntimeError):
    """A fine-tuning step that made non-finite weights (nothing is exported)."""


def run_main(body) -> int:
    """A command's exit status: `body()`'s (0 for None); 2 and one line `moranb: error: ...` on stderr for a
    `MoranbError`; 130 on Ctrl-C (finished stages are kept, so the same command resumes)."""
    try:
        return body() or 0
    except MoranbError as exc:
        print(f"moranb: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("moranb: interrupted; finished stages are kept, rerun the same command to resume", file=sys.stderr)
        return 130
