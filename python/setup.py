"""Copies libminima.so into the package as it is built, so that an installed
minima finds its library beside itself (pyproject.toml holds the metadata).
The library: $MINIMA_LIBRARY, else ../build/libminima.so (run `make` first).
Without one the package installs alone and finds the library at run time
through MINIMA_LIBRARY or the system's library path."""

import os
import shutil
import sys

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


def find_library():
    env = os.environ.get("MINIMA_LIBRARY")
    if env:
        return env if os.path.exists(env) else None
    for name in ("libminima.so", "libminima.dylib"):
        p = os.path.join(HERE, os.pardir, "build", name)
        if os.path.exists(p):
            return os.path.realpath(p)
    return None


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        lib = find_library()
        if lib is None:
            sys.stderr.write("minima: no libminima.so in ../build (run `make` first) or MINIMA_LIBRARY; "
                             "installing the package without it\n")
            return
        name = "libminima.dylib" if lib.endswith(".dylib") else "libminima.so"
        dest = os.path.join(self.build_lib, "minima", name)
        shutil.copyfile(lib, dest)        # the file itself, not a link into the build tree
        os.chmod(dest, 0o755)


setup(cmdclass={"build_py": BuildWithLibrary})
