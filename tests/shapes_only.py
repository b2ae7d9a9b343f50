"""Building a model to read its weights' shapes, without initialising them.

Keras defers initialising the weights created in a stateless scope. Under
jax, initialising compiles a random initialiser for every new weight shape,
which costs far more than the build, and the parameter and multiply-add
tests read shapes only.
"""

from __future__ import annotations


def build_shapes_only(keras, make):
    """``make()``'s model, its weights left uninitialised."""
    with keras.StatelessScope(initialize_variables=False):
        model = make()
    # Drops Keras' list of weights still to initialise, so that no later
    # scope initialises these.
    keras.utils.clear_session()
    return model
