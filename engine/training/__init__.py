"""Training of segmentation networks on synthetic cases generated from the MNI template.

``template`` (the maps), ``synth`` + ``lesions`` + ``augment`` + ``fields`` (the case generator),
``train`` (the loop), ``default_model`` + ``train_default`` (the shipped model), ``evaluate``
(held-out Dice and lesion detection), ``metrics``. MONAI (``train`` extra) is imported only here.
"""
