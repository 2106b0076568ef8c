"""Errors a user can act on.

Every error moranb raises on bad input is a `MoranbError`: its message is one line that names the problem and the
fix. The command line prints that line instead of a traceback.
"""


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
