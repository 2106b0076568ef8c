"""Image-to-image: InstructPix2Pix edits an image by an instruction ("make it snowy")."""

from ..role import Role
from . import realsize, tiny
from .agent import ImageToImageAgent

# Not fine-tuned here: the data-free dataset holds no edit instructions with before/after images.
ROLE = Role(
    name="image_to_image", components={"image_to_image": ("unet", "text_encoder", "vae")},
    tiny=tiny.BUILDS, architectures=realsize.ARCHITECTURES,
    check=realsize.check_image_to_image, reads=("width", "height", "dtype", "image_to_image"),
)
