"""The PyTorch module of a minima architecture string, for the references
that compare minima with PyTorch (bench/torch_cnn_hvp.py and
tests/fixtures/make_graph_reference.py).

    SHAPE:LAYER,LAYER,...

SHAPE is CxHxW (an image) or a flat size N. LAYER is
    N                              nn.Linear(in, N)
    conv<C>k<K>[s<S>][p<P>][d<D>][g<G>]   nn.Conv2d(in, C, K, S, P, D, G)
    relu | lrelu<a> | tanh         nn.ReLU() | nn.LeakyReLU(a) | nn.Tanh()
    maxpool<K>[s<S>]               nn.MaxPool2d(K, S)   (S defaults to K)
    avgpool<K>[s<S>]               nn.AvgPool2d(K, S)
    gap                            nn.AdaptiveAvgPool2d(1), nn.Flatten()
    flatten                        nn.Flatten()        (torch.flatten(x, 1))
    res(LAYER,...)                 x + body(x), body an nn.Sequential

The network is the nn.Sequential of these in order, so its parameters()
order (node by node, weight then bias; a residual block's body in order) is
minima's theta order. This is a reader of its own, kept small: it checks
that shapes chain and says which token it could not read, nothing more.
"""
import re

import torch


class Residual(torch.nn.Module):
    """x + body(x)."""

    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, x):
        return x + self.body(x)


def split_top(text):
    """Split at the commas outside parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ValueError("unbalanced ')' in %r" % text)
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if depth != 0:
        raise ValueError("unbalanced '(' in %r" % text)
    parts.append(cur)
    return [p.strip() for p in parts]


def parse_shape(text):
    dims = [int(t) for t in text.split("x")]
    if len(dims) == 3:
        return tuple(dims)
    if len(dims) == 1:
        return (dims[0],)
    raise ValueError("input shape %r: expected CxHxW or a flat size" % text)


def _out(n, k, s, p, d):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def build_layers(tokens, shape, bias):
    """Modules for tokens starting from shape; returns (modules, shape)."""
    mods = []
    for tok in tokens:
        m = re.fullmatch(r"res\((.*)\)", tok)
        if m:
            body, out = build_layers(split_top(m.group(1)), shape, bias)
            if out != shape:
                raise ValueError("%s: the body maps %s to %s, a residual needs the same shape"
                                 % (tok, shape, out))
            mods.append(Residual(torch.nn.Sequential(*body)))
            continue
        if re.fullmatch(r"\d+", tok):
            n = int(tok)
            if len(shape) != 1:
                raise ValueError("%s: a linear layer needs a flat input, found %s (add flatten)"
                                 % (tok, shape))
            mods.append(torch.nn.Linear(shape[0], n, bias=bias))
            shape = (n,)
            continue
        m = re.fullmatch(r"conv(\d+)k(\d+)((?:[spdg]\d+)*)", tok)
        if m:
            c, k = int(m.group(1)), int(m.group(2))
            opt = {"s": 1, "p": 0, "d": 1, "g": 1}
            for key, val in re.findall(r"([spdg])(\d+)", m.group(3)):
                opt[key] = int(val)
            s, p, d, g = opt["s"], opt["p"], opt["d"], opt["g"]
            if len(shape) != 3:
                raise ValueError("%s: a convolution needs an image input, found %s" % (tok, shape))
            mods.append(torch.nn.Conv2d(shape[0], c, k, s, p, d, g, bias=bias))
            shape = (c, _out(shape[1], k, s, p, d), _out(shape[2], k, s, p, d))
            continue
        m = re.fullmatch(r"(max|avg)pool(\d+)(?:s(\d+))?", tok)
        if m:
            k = int(m.group(2))
            s = int(m.group(3)) if m.group(3) else k
            if len(shape) != 3:
                raise ValueError("%s: pooling needs an image input, found %s" % (tok, shape))
            cls = torch.nn.MaxPool2d if m.group(1) == "max" else torch.nn.AvgPool2d
            mods.append(cls(k, s))
            shape = (shape[0], _out(shape[1], k, s, 0, 1), _out(shape[2], k, s, 0, 1))
            continue
        if tok == "gap":
            mods += [torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()]
            shape = (shape[0],)
            continue
        if tok == "flatten":
            mods.append(torch.nn.Flatten())
            shape = (shape[0] * shape[1] * shape[2],) if len(shape) == 3 else shape
            continue
        if tok == "relu":
            mods.append(torch.nn.ReLU())
            continue
        if tok == "tanh":
            mods.append(torch.nn.Tanh())
            continue
        m = re.fullmatch(r"lrelu([0-9.eE+-]+)", tok)
        if m:
            mods.append(torch.nn.LeakyReLU(float(m.group(1))))
            continue
        raise ValueError("cannot read layer token %r" % tok)
    if any(n < 1 for n in shape):
        raise ValueError("shapes do not chain: %s" % (shape,))
    return mods, shape


def build(arch, bias=True):
    """(nn.Sequential, input shape, output shape) of an architecture string."""
    head, sep, body = arch.partition(":")
    if not sep:
        raise ValueError("architecture %r: expected SHAPE:LAYER,..." % arch)
    shape = parse_shape(head)
    mods, out = build_layers(split_top(body), shape, bias)
    return torch.nn.Sequential(*mods), shape, out
