"""keras-profiler: which Keras backend trains your model fastest on your hardware.

Importing this package loads no framework: the CLI validates its input and
launches one fresh process per run before Keras is ever imported. The public
callback is imported lazily (it needs Keras).
"""

__version__ = "0.1.0"
__all__ = ["ProfilerCallback", "RunConfig", "profile_predict", "__version__"]


def __getattr__(name):
    if name == "ProfilerCallback":
        from keras_profiler.callback import ProfilerCallback

        return ProfilerCallback
    if name == "profile_predict":
        from keras_profiler.inference.helper import profile_predict

        return profile_predict
    if name == "RunConfig":
        from keras_profiler.config import RunConfig

        return RunConfig
    raise AttributeError(f"module 'keras_profiler' has no attribute {name!r}")
