"""Builds the firebreak package: the extension firebreak._core is built by
CMake (the repository's own build, target firebreak_python, which links
libfirebreak statically), then copied where setuptools expects it.

    python3 -m venv --system-site-packages .venv
    .venv/bin/pip install --no-build-isolation ./python

Uses only Debian's setuptools and pybind11 (no network). By default CMake
builds in <repo>/build/python-pip with the tools, tests and examples off; set
FIREBREAK_CMAKE_BUILD_DIR to reuse a configured build tree (scripts/setup's
build/, for instance) instead.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


class CMakeBuild(build_ext):
    def build_extension(self, ext: Extension) -> None:
        reuse = os.environ.get("FIREBREAK_CMAKE_BUILD_DIR")
        build_dir = Path(reuse).resolve() if reuse else ROOT / "build" / "python-pip"
        if not (build_dir / "CMakeCache.txt").exists():
            generator = ["-G", "Ninja"] if shutil.which("ninja") else []
            if shutil.which("ccache"):
                generator.append("-DCMAKE_CXX_COMPILER_LAUNCHER=ccache")
            subprocess.run(
                ["cmake", "-S", str(ROOT), "-B", str(build_dir), *generator,
                 "-DCMAKE_BUILD_TYPE=Release",
                 "-DFIREBREAK_BUILD_TOOLS=OFF", "-DFIREBREAK_BUILD_TESTS=OFF",
                 "-DFIREBREAK_BUILD_BENCH=OFF", "-DFIREBREAK_BUILD_EXAMPLES=OFF",
                 "-DFIREBREAK_BUILD_PYTHON=ON", f"-DPython_EXECUTABLE={sys.executable}"],
                check=True)
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", "1")
        subprocess.run(["cmake", "--build", str(build_dir), "--target", "firebreak_python",
                        "-j", jobs], check=True)
        built = sorted((build_dir / "python" / "firebreak").glob("_core*.so"))
        if not built:
            raise RuntimeError(f"CMake built no firebreak/_core*.so in {build_dir}")
        target = Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built[-1], target)


setup(
    name="firebreak",
    version="0.1.0",
    description="Firebreak's observability kit for Python services, on its C++ core",
    python_requires=">=3.11",
    packages=["firebreak"],
    package_data={"firebreak": ["py.typed", "*.pyi"]},
    ext_modules=[Extension("firebreak._core", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    zip_safe=False,
)
