#!/usr/bin/env python
"""Dump an exact per-layer reference of torchvision CNN architectures.

Standalone: needs torch + torchvision (NOT a dependency of aimclib). Run e.g.

    /tmp/tv/bin/python tools/torchvision_reference.py [--out tests/data/torchvision_reference.json]

For each network (weights=None, batch 1, eval mode, zeros input, torch.no_grad())
forward hooks on every nn.Conv2d / nn.Linear record, in execution order:
name, kind, cin, cout, kh, kw, sh, sw, ph, pw, dh, dw, groups, bias,
hin, win, hout, wout, weights (= weight.numel()), macs (= weights*hout*wout).
Linear layers are recorded with k=s=1, p=0, d=1, groups=1 and hin=win=hout=wout=1.

Per network: input_hw, total_params, mvm_weights (conv+linear weight numel,
no biases), macs, mvm_layers, n_batchnorm_params (BatchNorm2d weight+bias numel),
plus layers.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import torch
import torch.nn as nn
import torchvision
from torchvision import models

# (name, constructor kwargs, input H/W)
NETWORKS = [
    ("resnet50", {}, 224),
    ("mobilenet_v2", {}, 224),
    ("vgg16", {}, 224),
    ("densenet121", {}, 224),
    ("inception_v3", {"aux_logits": False, "init_weights": False}, 299),
    ("efficientnet_b0", {}, 224),
    ("resnet18", {}, 224),
    ("alexnet", {}, 224),
    ("squeezenet1_1", {}, 224),
    ("googlenet", {"aux_logits": False, "init_weights": False}, 224),
    ("mobilenet_v3_large", {}, 224),
]

LAYER_KEYS = ["name", "kind", "cin", "cout", "kh", "kw", "sh", "sw", "ph", "pw",
              "dh", "dw", "groups", "bias", "hin", "win", "hout", "wout",
              "weights", "macs"]


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def profile(name: str, kwargs: dict, hw: int) -> dict:
    torch.manual_seed(0)
    model = getattr(models, name)(weights=None, **kwargs).eval()
    extra = {}
    if hasattr(model, "transform_input"):
        extra["transform_input"] = bool(model.transform_input)
    if hasattr(model, "aux_logits"):
        extra["aux_logits"] = bool(model.aux_logits)

    layers: list[dict] = []
    handles = []

    def make_hook(mname):
        def hook(mod, inp, out):
            x = inp[0]
            w = mod.weight
            if isinstance(mod, nn.Conv2d):
                if not isinstance(mod.padding, (tuple, list)):
                    raise ValueError(f"{name}.{mname}: string padding {mod.padding!r}")
                kh, kw = _pair(mod.kernel_size)
                sh, sw = _pair(mod.stride)
                ph, pw = _pair(mod.padding)
                dh, dw = _pair(mod.dilation)
                rec = dict(name=mname, kind="conv", cin=mod.in_channels,
                           cout=mod.out_channels, kh=kh, kw=kw, sh=sh, sw=sw,
                           ph=ph, pw=pw, dh=dh, dw=dw, groups=mod.groups,
                           bias=mod.bias is not None,
                           hin=int(x.shape[2]), win=int(x.shape[3]),
                           hout=int(out.shape[2]), wout=int(out.shape[3]))
                assert x.shape[1] == mod.in_channels and out.shape[1] == mod.out_channels
            else:
                assert x.dim() == 2 and x.shape[1] == mod.in_features, (mname, x.shape)
                rec = dict(name=mname, kind="linear", cin=mod.in_features,
                           cout=mod.out_features, kh=1, kw=1, sh=1, sw=1,
                           ph=0, pw=0, dh=1, dw=1, groups=1,
                           bias=mod.bias is not None,
                           hin=1, win=1, hout=1, wout=1)
            rec["weights"] = int(w.numel())
            rec["macs"] = rec["weights"] * rec["hout"] * rec["wout"]
            layers.append({k: rec[k] for k in LAYER_KEYS})
        return hook

    n_conv_lin_modules = 0
    for mname, mod in model.named_modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            n_conv_lin_modules += 1
            handles.append(mod.register_forward_hook(make_hook(mname)))

    with torch.no_grad():
        out = model(torch.zeros(1, 3, hw, hw))
    for h in handles:
        h.remove()
    if not isinstance(out, torch.Tensor):  # named-tuple outputs (aux heads)
        out = out[0]
    # every registered module must have run exactly once
    assert len(layers) == n_conv_lin_modules, (name, len(layers), n_conv_lin_modules)
    assert len({l["name"] for l in layers}) == len(layers), name

    n_bn = sum(m.weight.numel() + m.bias.numel()
               for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    return {
        "input_hw": [hw, hw],
        "constructor_kwargs": {"weights": None, **kwargs},
        **extra,
        "output_shape": list(out.shape),
        "total_params": int(sum(p.numel() for p in model.parameters())),
        "mvm_weights": int(sum(l["weights"] for l in layers)),
        "macs": int(sum(l["macs"] for l in layers)),
        "mvm_layers": len(layers),
        "n_batchnorm_params": int(n_bn),
        "layers": layers,
    }


def dump(data: dict) -> str:
    """JSON with one layer per line."""
    lines = ["{"]
    keys = list(data)
    for i, key in enumerate(keys):
        tail = "," if i < len(keys) - 1 else ""
        val = data[key]
        if key.startswith("_") or "layers" not in val:
            lines.append(f"  {json.dumps(key)}: {json.dumps(val)}{tail}")
            continue
        lines.append(f"  {json.dumps(key)}: {{")
        for k, v in val.items():
            if k != "layers":
                lines.append(f"    {json.dumps(k)}: {json.dumps(v)},")
        lines.append('    "layers": [')
        for j, layer in enumerate(val["layers"]):
            sep = "," if j < len(val["layers"]) - 1 else ""
            lines.append("      " + json.dumps(layer, separators=(",", ":")) + sep)
        lines.append("    ]")
        lines.append("  }" + tail)
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    default_out = os.path.join(here, "..", "tests", "data", "torchvision_reference.json")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.normpath(default_out))
    args = ap.parse_args(argv)

    data = {"_source": {
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "python": sys.version.split()[0],
        "command": f"{sys.executable} tools/torchvision_reference.py",
        "notes": "weights=None, batch 1, eval(), zeros input, torch.no_grad(); "
                 "layers in forward execution order (Conv2d and Linear only); "
                 "macs = weight.numel()*hout*wout (linear: weight.numel()); "
                 "mvm_weights excludes biases; total_params = sum(p.numel()).",
    }}
    for name, kwargs, hw in NETWORKS:
        data[name] = profile(name, kwargs, hw)
        d = data[name]
        print(f"{name:20s} {hw:4d} layers={d['mvm_layers']:4d} "
              f"mvm_w={d['mvm_weights']:>12,} params={d['total_params']:>12,} "
              f"macs={d['macs']:>15,}", flush=True)

    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(dump(data))
    print(f"wrote {args.out} ({os.path.getsize(args.out):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
