"""The method of Gatys et al., *Image Style Transfer Using Convolutional Neural Networks* (CVPR 2016).

Tensors in, tensors out: this package imports TensorFlow, TensorFlow Probability and NumPy only.

Image convention, everywhere in ``core``: a float32 tensor of shape ``(1, H, W, 3)``, RGB, with
values in [0, 1]. Backbones do their own pre-processing (BGR, mean subtraction, 0-255 scale).

Modules:
    backbones: the feature extractors (``vgg19``, ``vgg16-hed``, ``tiny``), keyed by Keras layer name.
    losses: pure loss functions (Gram matrices, content, style, total variation).
    objective: one value-and-gradient function of an image.
    optimize: TFP's L-BFGS run in chunks, and Adam.
"""
