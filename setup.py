# The cffi shim is an API-mode extension: cffi's setuptools hook ("cffi_modules") compiles it
# when the package is built or installed. That hook has no pyproject.toml spelling, hence this file.
from setuptools import setup

setup(cffi_modules=["libcontainer_py/_sys/_build.py:ffibuilder"])
