#!/usr/bin/python3
"""Writes the tiny .npy fixtures of tests/runtime/npy_test.cc with numpy itself.

Run from anywhere with Debian's python and numpy:  /usr/bin/python3 tests/runtime/testdata/make_npy.py
The outputs are committed; each is under 1 KiB.
"""
import os

import numpy as np
from numpy.lib import format as npy_format

HERE = os.path.dirname(os.path.abspath(__file__))


def save(name, array, version=None):
    path = os.path.join(HERE, name)
    with open(path, "wb") as f:
        npy_format.write_array(f, array, version=version, allow_pickle=False)
    assert os.path.getsize(path) < 1024, name


# C order, one per supported dtype, and the three format versions.
save("f4_2x3.npy", (np.arange(6, dtype=np.float32) - 2.5).reshape(2, 3))
save("f8_v2.npy", np.array([0.1, -2.0, 1e300], dtype=np.float64), version=(2, 0))
save("i4_v3.npy", np.array([[1, -2], [2147483647, -2147483648]], dtype=np.int32), version=(3, 0))
save("i8_scalar.npy", np.array(-9007199254740993, dtype=np.int64))
save("f4_empty.npy", np.zeros((0, 3), dtype=np.float32))
# Fortran order: element [i, j, k] = 100 i + 10 j + k.
i, j, k = np.meshgrid(np.arange(2), np.arange(3), np.arange(4), indexing="ij")
fortran = np.asfortranarray((100 * i + 10 * j + k).astype(np.float64))
assert fortran.flags.f_contiguous and not fortran.flags.c_contiguous
save("f8_fortran_2x3x4.npy", fortran)
# Refused: big-endian data and an unsupported dtype.
save("f4_big_endian.npy", np.array([1.0, 2.0], dtype=">f4"))
save("c8_complex.npy", np.array([1 + 2j], dtype=np.complex64))
