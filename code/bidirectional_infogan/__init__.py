"""Bidirectional-InfoGAN (Hinz & Wermter, ESANN 2018) on TensorFlow 2 / Keras 3.

Subpackages, each importing only from those listed before it:
  util/      argument types, progress lines, TensorFlow set-up
  data/      the data sets' loaders and the image augmentations
  model/     run settings, latent code, networks, losses and the training step
  runs/      a run folder, its checkpoints, the errors shown to users
  datasets.py, architecture.py   each data set's defaults and flags; the architecture documents
  evaluate/  scores, health, figures, exported models, evaluate_model.py
  train/     the training loop and the training scripts' command line
"""
