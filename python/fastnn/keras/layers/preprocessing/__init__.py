"""Keras' preprocessing layers that work on arrays: numeric ones on fastnn ops (they run inside models and on
any device), string / vocabulary / hashing ones on host data (as Keras runs them outside the graph), and the
image ones (resizing, crops, flips and the random augmentations) on fastnn ops."""
from __future__ import annotations

from .numeric import CategoryEncoding, Discretization, Normalization, Rescaling
from .hashing import HashedCrossing, Hashing
from .lookup import IndexLookup, IntegerLookup, StringLookup
from .text_vectorization import TextVectorization
from .image import (CenterCrop, RandomBrightness, RandomContrast, RandomCrop, RandomFlip, RandomPerspective,
                    RandomRotation, RandomShear, RandomTranslation, RandomZoom, Resizing)
from .pipeline import Pipeline
from .image_color import (AutoContrast, Equalization, RandomColorDegeneration, RandomColorJitter, RandomGaussianBlur,
                          RandomGrayscale, RandomHue, RandomInvert, RandomPosterization, RandomSaturation,
                          RandomErasing, RandomSharpness, Solarization)
from .image_mix import CutMix, MixUp
from .image_mix import RandAugment
