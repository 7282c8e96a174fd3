#!/usr/bin/python3
"""Write the LoRA-merge test fixtures into test/fixtures/lora/ (a few KB, committed).

Graphs (ONNX, opset 17), named the way diffusers/optimum exports name them, with Linear weights
renamed `onnx::MatMul_N` as torch's constant folding does, so only the node names carry the
module path:

  sd15/unet/model.onnx + weights.pb   x[1,8] -> to_q MatMul (weight in external data)      -> q[1,6]
                                      x[1,8] -> to_k MatMul (weight inline, raw_data)      -> k[1,6]
                                      img[1,4,5,5] -> resnets.0/conv1 Conv 3x3 (external)  -> c[1,3,5,5]
                                      img -> attentions.0/proj_in Conv 1x1 (external)      -> p[1,6,5,5]
  sd15/text_encoder/model.onnx + model.onnx_data   h[1,8] -> layers.0 q_proj MatMul        -> y[1,8]
  sd15-fp16/unet/...                  the UNet above in float16 (inputs and outputs too)
  sdxl/unet/...                       to_q of down_blocks.1.attentions.0 (SDXL has no attention in block 0)
  fused/unet/model.onnx               a com.microsoft MultiHeadAttention graph with packed
                                      MatMul_QKV weights, as ORT's transformer optimizer leaves it

LoRAs (.safetensors):
  kohya_sd15     lora_unet_/lora_te_ keys, lora_down/lora_up/alpha, a LoCon 3x3, mixed F16/F32
  peft_sd15      unet./text_encoder. keys with lora_A/lora_B (no alpha: scale 1), one BF16 tensor
  kohya_sdxl     lora_unet_input_blocks_4_1_... (LDM names) + lora_te1_/lora_te2_

Only the Python standard library is used (no torch/onnx/numpy needed): protobuf and safetensors
are written by hand. Deterministic (fixed seed). Run:

    /usr/bin/python3 models/tools/make_lora_fixtures.py
"""
import json
import os
import random
import shutil
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'fixtures', 'lora')
rng = random.Random(20261202)

FLOAT, FLOAT16 = 1, 10

# ----------------------------------------------------------------------------- protobuf wire format

def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)

def f_varint(field, value):
    return varint(field << 3) + varint(value)

def f_bytes(field, payload):
    if isinstance(payload, str):
        payload = payload.encode('utf-8')
    return varint((field << 3) | 2) + varint(len(payload)) + payload

def tensor(name, dtype, dims, raw=None, external=None):
    out = b''.join(f_varint(1, d) for d in dims) + f_varint(2, dtype) + f_bytes(8, name)
    if raw is not None:
        out += f_bytes(9, raw)
    if external is not None:
        location, offset, length = external
        for k, v in (('location', location), ('offset', str(offset)), ('length', str(length))):
            out += f_bytes(13, f_bytes(1, k) + f_bytes(2, v))
        out += f_varint(14, 1)
    return out

def attr_ints(name, values):
    return f_bytes(1, name) + f_varint(20, 7) + b''.join(f_varint(8, v) for v in values)

def attr_int(name, value):
    return f_bytes(1, name) + f_varint(20, 2) + f_varint(3, value)

def node(op, inputs, outputs, name, attrs=(), domain=''):
    out = b''.join(f_bytes(1, i) for i in inputs) + b''.join(f_bytes(2, o) for o in outputs)
    out += f_bytes(3, name) + f_bytes(4, op) + b''.join(f_bytes(5, a) for a in attrs)
    if domain:
        out += f_bytes(7, domain)
    return out

def value_info(name, dtype, shape):
    dims = b''.join(f_bytes(1, f_varint(1, d)) for d in shape)
    return f_bytes(1, name) + f_bytes(2, f_bytes(1, f_varint(1, dtype) + f_bytes(2, dims)))

def model(nodes, inits, inputs, outputs, opsets=(('', 17),)):
    graph = b''.join(f_bytes(1, n) for n in nodes) + f_bytes(2, 'g')
    graph += b''.join(f_bytes(5, t) for t in inits)
    graph += b''.join(f_bytes(11, value_info(*i)) for i in inputs)
    graph += b''.join(f_bytes(12, value_info(*o)) for o in outputs)
    ops = b''.join(f_bytes(8, (f_bytes(1, d) if d else b'') + f_varint(2, v)) for d, v in opsets)
    return f_varint(1, 8) + f_bytes(2, 'atelier-lora-fixtures') + f_bytes(7, graph) + ops

# ----------------------------------------------------------------------------- values

def randn(n, scale=0.5):
    return [rng.gauss(0.0, scale) for _ in range(n)]

def pack(values, dtype):
    if dtype == FLOAT:
        return struct.pack('<%df' % len(values), *values)
    return struct.pack('<%de' % len(values), *values)

def count(dims):
    n = 1
    for d in dims:
        n *= d
    return n

class DataFile:
    """An external-data file: tensors appended at 64-byte aligned offsets (as onnx.save does with align)."""
    def __init__(self, name):
        self.name, self.buf = name, bytearray()

    def add(self, raw):
        pad = (-len(self.buf)) % 64
        self.buf += b'\0' * pad
        offset = len(self.buf)
        self.buf += raw
        return (self.name, offset, len(raw))

def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)

# ----------------------------------------------------------------------------- graphs

ATTN = '/down_blocks.{b}/attentions.0/transformer_blocks.0/attn1'

def unet(folder, dtype, block=0):
    data = DataFile('weights.pb')
    attn = ATTN.format(b=block)
    wq, wk = [8, 6], [8, 6]
    wc, wp = [3, 4, 3, 3], [6, 4, 1, 1]
    inits = [
        tensor('onnx::MatMul_7', dtype, wq, external=data.add(pack(randn(count(wq)), dtype))),
        tensor('onnx::MatMul_8', dtype, wk, raw=pack(randn(count(wk)), dtype)),
        tensor('down_blocks.%d.resnets.0.conv1.weight' % block, dtype, wc, external=data.add(pack(randn(count(wc)), dtype))),
        tensor('down_blocks.%d.attentions.0.proj_in.weight' % block, dtype, wp, external=data.add(pack(randn(count(wp)), dtype))),
    ]
    nodes = [
        node('MatMul', ['x', 'onnx::MatMul_7'], ['q'], attn + '/to_q/MatMul'),
        node('MatMul', ['x', 'onnx::MatMul_8'], ['k'], attn + '/to_k/MatMul'),
        node('Conv', ['img', 'down_blocks.%d.resnets.0.conv1.weight' % block], ['c'], '/down_blocks.%d/resnets.0/conv1/Conv' % block,
             [attr_ints('kernel_shape', [3, 3]), attr_ints('pads', [1, 1, 1, 1])]),
        node('Conv', ['img', 'down_blocks.%d.attentions.0.proj_in.weight' % block], ['p'], '/down_blocks.%d/attentions.0/proj_in/Conv' % block,
             [attr_ints('kernel_shape', [1, 1])]),
    ]
    m = model(nodes, inits, [('x', dtype, [1, 8]), ('img', dtype, [1, 4, 5, 5])],
              [('q', dtype, [1, 6]), ('k', dtype, [1, 6]), ('c', dtype, [1, 3, 5, 5]), ('p', dtype, [1, 6, 5, 5])])
    write(os.path.join(folder, 'model.onnx'), m)
    write(os.path.join(folder, 'weights.pb'), bytes(data.buf))

def text_encoder(folder):
    data = DataFile('model.onnx_data')
    w = [8, 8]
    inits = [tensor('onnx::MatMul_21', FLOAT, w, external=data.add(pack(randn(count(w)), FLOAT)))]
    nodes = [node('MatMul', ['h', 'onnx::MatMul_21'], ['y'], '/text_model/encoder/layers.0/self_attn/q_proj/MatMul')]
    write(os.path.join(folder, 'model.onnx'), model(nodes, inits, [('h', FLOAT, [1, 8])], [('y', FLOAT, [1, 8])]))
    write(os.path.join(folder, 'model.onnx_data'), bytes(data.buf))

def fused_unet(folder):
    """What ORT's optimizer leaves: packed QKV weights feeding MultiHeadAttention; no to_q/to_k/to_v nodes."""
    w = [8, 24]
    inits = [
        tensor('MatMul_QKV_0_weight', FLOAT, w, raw=pack(randn(count(w)), FLOAT)),
        tensor('down_blocks.0.resnets.0.conv1.weight', FLOAT, [3, 4, 3, 3], raw=pack(randn(108), FLOAT)),
    ]
    nodes = [
        node('MatMul', ['x', 'MatMul_QKV_0_weight'], ['qkv'], 'MatMul_QKV_0'),
        node('MultiHeadAttention', ['qkv'], ['q'], 'Attention_0', [attr_int('num_heads', 1)], domain='com.microsoft'),
        node('Conv', ['img', 'down_blocks.0.resnets.0.conv1.weight'], ['c'], '/down_blocks.0/resnets.0/conv1/Conv',
             [attr_ints('kernel_shape', [3, 3]), attr_ints('pads', [1, 1, 1, 1])]),
    ]
    m = model(nodes, inits, [('x', FLOAT, [1, 1, 8]), ('img', FLOAT, [1, 4, 5, 5])], [('q', FLOAT, [1, 1, 8]), ('c', FLOAT, [1, 3, 5, 5])],
              opsets=(('', 17), ('com.microsoft', 1)))
    write(os.path.join(folder, 'model.onnx'), m)

# ----------------------------------------------------------------------------- safetensors

ST_DTYPES = {'F32': ('f', 4), 'F16': ('e', 2)}

def safetensors(path, tensors, metadata):
    """tensors: list of (name, dtype, shape, values); BF16 stored as the top half of float32."""
    header, blobs, offset = {'__metadata__': metadata}, [], 0
    for name, dtype, shape, values in tensors:
        if dtype == 'BF16':
            raw = b''.join(struct.pack('<f', v)[2:] for v in values)
        else:
            code, _ = ST_DTYPES[dtype]
            raw = struct.pack('<%d%s' % (len(values), code), *values)
        header[name] = {'dtype': dtype, 'shape': shape, 'data_offsets': [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(',', ':')).encode('utf-8')
    h += b' ' * ((-len(h)) % 8)
    write(path, struct.pack('<Q', len(h)) + h + b''.join(blobs))

def kohya(prefix, rank, out, inner, down_dtype='F32', up_dtype='F32', alpha=None):
    down_shape = [rank] + inner
    return [
        (prefix + '.lora_down.weight', down_dtype, down_shape, randn(count(down_shape), 0.3)),
        (prefix + '.lora_up.weight', up_dtype, [out, rank] + ([1, 1] if len(inner) == 3 else []), randn(out * rank, 0.3)),
    ] + ([(prefix + '.alpha', 'F32', [], [float(alpha)])] if alpha is not None else [])

def loras():
    unet_attn = 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1'
    t = []
    t += kohya(unet_attn + '_to_q', 4, 6, [8], alpha=2)
    t += kohya(unet_attn + '_to_k', 2, 6, [8], down_dtype='F16', up_dtype='F16', alpha=2)
    t += kohya('lora_unet_down_blocks_0_resnets_0_conv1', 2, 3, [4, 3, 3], alpha=1)
    t += kohya('lora_unet_down_blocks_0_attentions_0_proj_in', 2, 6, [4, 1, 1], alpha=2)
    t += kohya('lora_te_text_model_encoder_layers_0_self_attn_q_proj', 2, 8, [8], alpha=1)
    safetensors(os.path.join(ROOT, 'kohya_sd15.safetensors'), t,
                {'ss_base_model_version': 'sd_v1', 'ss_network_dim': '4', 'ss_output_name': 'kohya_sd15'})

    p = 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q'
    t = [
        (p + '.lora_A.weight', 'F32', [3, 8], randn(24, 0.3)),
        (p + '.lora_B.weight', 'BF16', [6, 3], randn(18, 0.3)),
        ('text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_A.weight', 'F32', [2, 8], randn(16, 0.3)),
        ('text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_B.weight', 'F32', [8, 2], randn(16, 0.3)),
    ]
    safetensors(os.path.join(ROOT, 'peft_sd15.safetensors'), t, {})

    t = []
    t += kohya('lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q', 2, 6, [8], alpha=1)
    t += kohya('lora_te1_text_model_encoder_layers_0_self_attn_q_proj', 2, 8, [8], alpha=1)
    t += kohya('lora_te2_text_model_encoder_layers_0_self_attn_q_proj', 2, 8, [8], alpha=1)
    safetensors(os.path.join(ROOT, 'kohya_sdxl.safetensors'), t, {'ss_base_model_version': 'sdxl_base_v1-0'})

def main():
    shutil.rmtree(ROOT, ignore_errors=True)
    unet(os.path.join(ROOT, 'sd15', 'unet'), FLOAT)
    text_encoder(os.path.join(ROOT, 'sd15', 'text_encoder'))
    unet(os.path.join(ROOT, 'sd15-fp16', 'unet'), FLOAT16)
    unet(os.path.join(ROOT, 'sdxl', 'unet'), FLOAT, block=1)
    fused_unet(os.path.join(ROOT, 'fused', 'unet'))
    loras()
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(ROOT) for f in fs)
    print('wrote %s (%d bytes)' % (os.path.relpath(ROOT), total))

if __name__ == '__main__':
    main()
