"""Synthetic brain MRI cases from the MNI ICBM152 template: the runtime library.

``template`` (the pre-smoothed T1 and tissue maps), ``synth`` + ``lesions`` + ``augment`` +
``fields`` (the case generator). Fine-tuning (rehearsal cases, augmentation fields), the OOD
template check and the demo study use it at run time; the training scripts in
:mod:`engine.training` build on it. It imports nothing above :mod:`engine.inference`.
"""
