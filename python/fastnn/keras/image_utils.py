"""keras.utils' image helpers on PIL images and arrays: ``load_img``, ``img_to_array``, ``array_to_img``,
``save_img``. They need the Pillow package (as Keras' do) and say so when it is missing."""
from __future__ import annotations

import os
import warnings

from .. import creation

_PIL_INTERPOLATION = {"nearest": "NEAREST", "bilinear": "BILINEAR", "bicubic": "BICUBIC", "hamming": "HAMMING",
                      "box": "BOX", "lanczos": "LANCZOS"}


def pil_image():
    """PIL.Image, or an ImportError naming what needs it."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("Could not import PIL.Image. The use of keras.utils' image functions (load_img, "
                          "img_to_array, array_to_img, save_img, image_dataset_from_directory) requires PIL "
                          "(pip install pillow).") from None
    return Image


def _data_format(data_format) -> str:
    data_format = data_format or "channels_last"
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError(f"Invalid data_format: {data_format}")
    return data_format


def array_to_img(x, data_format=None, scale: bool = True, dtype=None):
    """A 3-D array (height, width, channels) of 1, 3 or 4 channels as a PIL image; ``scale`` maps the
    array's range onto [0, 255] first."""
    Image = pil_image()
    data_format = _data_format(data_format)
    from .tensor_utils import standardize_dtype

    t = creation.tensor(x).to(standardize_dtype(dtype))  # Keras converts to dtype (float32 by default) first
    if t.ndim != 3:
        raise ValueError(f"Expected image array to have rank 3 (single image). Got array with shape: {tuple(t.shape)}")
    if data_format == "channels_first":
        t = t.permute(1, 2, 0)
    if scale:
        t = t - t.min()
        top = t.max()
        if float(top) != 0:
            t = t / top
        t = t * 255
    channels = t.shape[2]
    mode = {4: "RGBA", 3: "RGB"}.get(channels)
    if mode is not None:
        return Image.fromarray(t.to("uint8").numpy(), mode)
    if channels == 1:
        if float(t.max()) > 255:  # 32-bit signed integer grayscale image (PIL mode "I")
            return Image.fromarray(t[:, :, 0].to("int32").numpy(), "I")
        return Image.fromarray(t[:, :, 0].to("uint8").numpy(), "L")
    raise ValueError(f"Unsupported channel number: {channels}")


def img_to_array(img, data_format=None, dtype=None):
    """A PIL image as a float32 NumPy array (height, width, channels), or channels first."""
    data_format = _data_format(data_format)
    t = creation.tensor(img).to(dtype or "float32")
    if t.ndim == 2:
        t = t.unsqueeze(0 if data_format == "channels_first" else -1)
    elif t.ndim == 3:
        if data_format == "channels_first":
            t = t.permute(2, 0, 1)
    else:
        raise ValueError(f"Unsupported image shape: {tuple(t.shape)}")
    return t.numpy()


def save_img(path, x, data_format=None, file_format=None, scale: bool = True, **kwargs):
    """Writes an image array to ``path`` (the format from the extension unless ``file_format``)."""
    data_format = _data_format(data_format)
    if file_format is None and isinstance(path, (str, os.PathLike)):
        file_format = os.path.splitext(os.fspath(path))[1][1:].lower() or None
    if file_format == "jpg":
        file_format = "jpeg"
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and file_format in ("jpg", "jpeg"):
        warnings.warn("The JPG format does not support RGBA images, converting to RGB.", stacklevel=2)
        img = img.convert("RGB")
    img.save(path, format=file_format, **kwargs)


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest", keep_aspect_ratio: bool = False):
    """A PIL image from a file (or a file object / BytesIO), converted to ``color_mode`` ('grayscale', 'rgb',
    'rgba') and resized to ``target_size`` = (height, width); ``keep_aspect_ratio`` crops the center to the
    target's aspect ratio first."""
    Image = pil_image()
    if isinstance(path, (str, os.PathLike)):
        with open(path, "rb") as f:
            img = Image.open(f)
            img.load()
    elif hasattr(path, "read"):
        img = Image.open(path)
    else:
        raise TypeError(f"path should be path-like or io.BytesIO, not {type(path)}")
    modes = {"grayscale": ("L", "I;16", "I"), "rgba": ("RGBA",), "rgb": ("RGB",)}
    if color_mode not in modes:
        raise ValueError('color_mode must be "grayscale", "rgb", or "rgba"')
    if img.mode not in modes[color_mode]:
        img = img.convert({"grayscale": "L", "rgba": "RGBA", "rgb": "RGB"}[color_mode])
    if target_size is not None:
        width_height = (target_size[1], target_size[0])
        if img.size != width_height:
            if interpolation not in _PIL_INTERPOLATION:
                raise ValueError(f"Invalid interpolation method {interpolation} specified. Supported methods are "
                                 f"{', '.join(_PIL_INTERPOLATION)}")
            resample = getattr(getattr(Image, "Resampling", Image), _PIL_INTERPOLATION[interpolation])
            if keep_aspect_ratio:
                width, height = img.size
                target_w, target_h = width_height
                crop_h = (width * target_h) // target_w
                crop_w = (height * target_w) // target_h
                crop_h, crop_w = min(height, crop_h), min(width, crop_w)
                left, top = (width - crop_w) // 2, (height - crop_h) // 2
                img = img.resize(width_height, resample, box=(left, top, left + crop_w, top + crop_h))
            else:
                img = img.resize(width_height, resample)
    return img


__all__ = ["array_to_img", "img_to_array", "load_img", "save_img"]
