"""Models: the V-Net (``vnet``), model bundles (``bundle``), import of official checkpoints
(``checkpoint``) and the model registry (``registry``)."""
