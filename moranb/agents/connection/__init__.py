"""Video connection: a transition from one frame to another (LTX-Video conditioned on a first and a last frame; on
the Wan profiles Wan 2.1 FLF2V or VACE)."""

from ..role import Role
from . import realsize, tiny
from .agent import NEGATIVE_PROMPT, ConnectionAgent
from .trainer import ConnectionTrainer

ROLE = Role(
    name="connection", components={"connection": ("transformer", "vae", "text_encoder")},
    loads=realsize.LOADS,
    tiny=tiny.BUILDS, architectures=realsize.ARCHITECTURES,
    check=realsize.check_connection,
    reads=("width", "height", "dtype", "connection"),
    trainer=ConnectionTrainer,
)
