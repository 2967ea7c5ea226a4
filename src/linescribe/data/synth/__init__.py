"""Synthetic handwritten text lines: handwriting fonts, real word frequencies, paper and scan effects.

``LineSynthesizer(...).sample(rng)`` gives (image, text) pairs on the fly for training;
``write_dataset`` (and ``linescribe synth``) writes them as a folder of PNG + .gt.txt files.
"""

from linescribe.data.synth.render import SynthConfig
from linescribe.data.synth.synthesizer import LineSynthesizer, write_dataset

__all__ = ["LineSynthesizer", "SynthConfig", "write_dataset"]
