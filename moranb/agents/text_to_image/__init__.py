"""Text-to-image: SDXL base, then the SDXL refiner on the base's latents (the paper's first frame)."""

from ..role import Role
from . import realsize, tiny
from .agent import TextToImageAgent
from .trainer import TextToImageTrainer

ROLE = Role(
    name="text_to_image",
    components={"text_to_image": ("unet", "text_encoder", "text_encoder_2", "vae"), "refiner": ("unet",)},
    tiny=tiny.BUILDS, architectures=realsize.ARCHITECTURES,
    check=realsize.check_text_to_image, reads=("width", "height", "dtype", "text_to_image"),
    trainer=TextToImageTrainer,
)
