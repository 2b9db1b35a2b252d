"""Scripts that train, evaluate and calibrate models: the top of the engine, imported by nothing in it.

``train`` (the loop), ``default_model`` + ``train_default`` (the shipped model), ``evaluate``
(held-out Dice and lesion detection), ``metrics``, ``calibrate_trust`` / ``evaluate_trust`` /
``ood_shifts`` (the trust layer's calibration and OOD suite), ``safeguard_sets`` (a package's
regression and rehearsal sets). Cases come from :mod:`engine.synthesis`. MONAI (``train`` extra)
is imported only here.
"""
