#!/usr/bin/env python3
"""Writes the hand-made seeds of fuzz/corpus/ (standard library only).

    python3 fuzz/make_seeds.py            # from the repository root

Seeds are small valid files (and a few near-valid ones) of each format, so
the fuzzers start deep inside the parsers. The checkpoint seeds come from
build/seed_checkpoint (fuzz/seed_checkpoint.c), the safetensors seeds also
from tests/fixtures/ and from `minima train`; see docs/fuzzing.md."""
import gzip
import json
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(parser, name, data):
    d = os.path.join(ROOT, parser)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- .npy -------------------------------------------------------------------
def npy(descr, shape, payload, version=1, fortran=False, quote="'"):
    q = quote
    shp = "(" + "".join(f"{s}, " for s in shape).rstrip(" ")
    if len(shape) > 1:
        shp = shp.rstrip(",")
    shp += ")"
    if len(shape) == 1:
        shp = f"({shape[0]},)"
    h = (f"{{{q}descr{q}: {q}{descr}{q}, {q}fortran_order{q}: {fortran}, "
         f"{q}shape{q}: {shp}, }}")
    lenfmt = "<H" if version == 1 else "<I"
    pre = 6 + 2 + struct.calcsize(lenfmt)
    pad = 64 - (pre + len(h) + 1) % 64
    h = h + " " * pad + "\n"
    return b"\x93NUMPY" + bytes([version, 0]) + struct.pack(lenfmt, len(h)) + h.encode() + payload


def pack(fmt, vals):
    return b"".join(struct.pack(fmt, v) for v in vals)


put("npy", "f8-2x3.npy", npy("<f8", (2, 3), pack("<d", [0.5, -1, 2, 3.25, 1e300, -0.0])))
put("npy", "f4-4.npy", npy("<f4", (4,), pack("<f", [1, 2, 3, 4])))
put("npy", "f2-3.npy", npy("<f2", (3,), pack("<e", [1.5, -2, 65504])))
put("npy", "f8-big-2x2.npy", npy(">f8", (2, 2), pack(">d", [1, 2, 3, 4])))
put("npy", "i8-5.npy", npy("<i8", (5,), pack("<q", [0, 1, -1, 2**53, -(2**53)])))
put("npy", "i4-2x2.npy", npy("<i4", (2, 2), pack("<i", [7, -7, 2**31 - 1, -(2**31)])))
put("npy", "i2-big.npy", npy(">i2", (3,), pack(">h", [1, -2, 300])))
put("npy", "i1-3.npy", npy("|i1", (3,), pack("<b", [-128, 0, 127])))
put("npy", "u1-2x2x2.npy", npy("|u1", (2, 2, 2), bytes(range(8))))
put("npy", "u2-2.npy", npy("<u2", (2,), pack("<H", [0, 65535])))
put("npy", "u4-2.npy", npy("<u4", (2,), pack("<I", [0, 2**32 - 1])))
put("npy", "u8-2.npy", npy("<u8", (2,), pack("<Q", [0, 2**53])))
put("npy", "b1-4.npy", npy("|b1", (4,), bytes([0, 1, 1, 0])))
put("npy", "scalar.npy", npy("<f8", (), pack("<d", [42])))
put("npy", "empty-0x3.npy", npy("<f8", (0, 3), b""))
put("npy", "v2-f8.npy", npy("<f8", (2,), pack("<d", [1, 2]), version=2))
put("npy", "v3-f8.npy", npy("=f8", (1, 2), pack("<d", [1, 2]), version=3, quote='"'))
put("npy", "fortran.npy", npy("<f8", (2, 2), pack("<d", [1, 2, 3, 4]), fortran=True))
put("npy", "object.npy", npy("|O", (1,), b"\0" * 8))
put("npy", "truncated.npy", npy("<f8", (2, 3), pack("<d", [1, 2])))

# ---- IDX (raw and gzip) -------------------------------------------------------
def idx(code, dims, payload):
    return bytes([0, 0, code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


raw = {
    "u8-images-3x2x2": idx(0x08, (3, 2, 2), bytes(range(12))),
    "u8-labels-3": idx(0x08, (3,), bytes([0, 9, 1])),
    "i8-2x2": idx(0x09, (2, 2), pack(">b", [-1, 2, -128, 127])),
    "i16-3": idx(0x0B, (3,), pack(">h", [1, -2, 32767])),
    "i32-2": idx(0x0C, (2,), pack(">i", [-(2**31), 2**31 - 1])),
    "f32-2x2": idx(0x0D, (2, 2), pack(">f", [0.5, -1, 3e38, 1e-40])),
    "f64-2": idx(0x0E, (2,), pack(">d", [1.5, -2.25])),
    "u8-4d": idx(0x08, (1, 1, 2, 2), bytes(4)),
    "trailing": idx(0x08, (2,), bytes(3)),
}
for name, data in raw.items():
    put("idx", name + ".idx", data)
    put("idx_gz", name + ".idx", data)
for name in ("u8-images-3x2x2", "f64-2", "i16-3"):
    put("idx", name + ".idx.gz", gzip.compress(raw[name], mtime=0))
# two gzip members, and a truncated stream
put("idx", "two-members.idx.gz", gzip.compress(raw["u8-labels-3"][:6], mtime=0) +
    gzip.compress(raw["u8-labels-3"][6:], mtime=0))
put("idx", "truncated.idx.gz", gzip.compress(raw["f32-2x2"], mtime=0)[:-6])

# ---- CSV ----------------------------------------------------------------------
put("csv", "labels-header.csv", "label,x1,x2\n0,0.5,1\n1,-2,3e-5\n2,1e10,-0\n")
put("csv", "labels-noheader.csv", "1,2,3\n0,4,5\n")
put("csv", "regression.csv", "y,a\n0.5,1\n-1.25,2\n")
put("csv", "quotes-comments.csv", "# comment\n\n\"label\", \"x\"\r\n \"3\" , \"1.5\"\r\n+0,-2\r\n")
put("csv", "no-newline.csv", "0,1,2,3,4")
put("csv", "bad-nan.csv", "0,nan\n1,inf\n")
put("csv", "ragged.csv", "0,1\n1,2,3\n")

# ---- --arch strings -----------------------------------------------------------
for i, s in enumerate(["784-128-10", "2-1", "1-1-1-1-1-1-1-1", "100000000-1",
                       "10-0-3", "-1-2", "3--4", "12-", "+5-6", " 7-8", "9-0x10",
                       "99999999999999999999-1", "5"]):
    put("arch", f"arch{i:02d}", s)

# ---- safetensors (hand-made; more come from tests/fixtures) ---------------------
def st(tensors, meta=None, pad=True):
    hdr, data = {}, b""
    if meta is not None:
        hdr["__metadata__"] = meta
    for name, (dtype, shape, payload) in tensors.items():
        hdr[name] = {"dtype": dtype, "shape": list(shape),
                     "data_offsets": [len(data), len(data) + len(payload)]}
        data += payload
    h = json.dumps(hdr, separators=(",", ":")).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


put("safetensors", "linear-f64.safetensors",
    st({"weight": ("F64", (2, 3), pack("<d", range(6))), "bias": ("F64", (2,), pack("<d", [1, -1]))}))
put("safetensors", "seq-f32.safetensors",
    st({"0.weight": ("F32", (3, 2), pack("<f", range(6))), "0.bias": ("F32", (3,), pack("<f", [0] * 3)),
        "2.weight": ("F32", (1, 3), pack("<f", [1, 2, 3])), "2.bias": ("F32", (1,), pack("<f", [0]))},
       meta={"activation": "tanh", "loss": "mse", "note": "x"}))
put("safetensors", "f16-bf16.safetensors",
    st({"fc1.weight": ("F16", (2, 2), pack("<e", [1, 2, 3, 4])),
        "fc2.weight": ("BF16", (1, 2), b"\x80\x3f\x00\x40")},
       meta={"activation": "leaky_relu", "leaky_slope": "0.1"}))
put("safetensors", "extra-i64.safetensors",
    st({"weight": ("F64", (1, 1), pack("<d", [2])), "running_mean": ("I64", (1,), pack("<q", [3]))}))
put("safetensors", "nan.safetensors", st({"weight": ("F64", (1, 2), pack("<d", [float("nan"), 1]))}))
put("safetensors", "unpadded.safetensors", st({"weight": ("F64", (1, 1), pack("<d", [5]))}, pad=False))

# ---- landscape CSV ------------------------------------------------------------
put("landscape_csv", "1d.csv", "t,loss,accuracy\n-1,0.5,0.9\n0,0.25,1\n1,0.75,nan\n")
put("landscape_csv", "2d.csv", "s,t,loss,accuracy\n-1,-1,1,0.5\n1,-1,2,0.5\n-1,1,3,0.5\n1,1,4,nan\n")
put("landscape_csv", "series.csv", "series,t,loss,accuracy\na,0,1,1\na,1,2,1\nb,0,3,0\nb,1,4,0\n")
put("landscape_csv", "series2d.csv",
    "series,s,t,loss,accuracy\na,0,0,1,1\na,1,0,2,1\na,0,1,2,1\na,1,1,3,1\n")
