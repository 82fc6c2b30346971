#!/usr/bin/env node
// run_ort.js: runs an ONNX model with ONNX Runtime's CPU provider (onnxruntime-node, pinned in
// package.json) on .npy inputs and writes each output as DIR/OUTPUT.npy -- the same interface as
// qclip-run, so the two can be compared and benchmarked side by side. A dev tool: qclip itself
// never links or loads ONNX Runtime.
//
//   node run_ort.js MODEL.onnx --input NAME=FILE.npy ... [--output-dir DIR] [--threads N]
//                   [--bench N [--warmup-ms T]]
//
// --bench N: after the first run (the one whose outputs are written) and untimed runs for at
// least T ms (--warmup-ms, default 0), N more timed runs, then one line
// "load_ms=… median_ms=… min_ms=…" as qclip-run prints it. Errors: "run_ort: error: …"
// on stderr, exit code 1.
'use strict';

const fs = require('fs');
const path = require('path');

const program = 'run_ort';

function fail(message) {
  process.stderr.write(`${program}: error: ${message}\n`);
  process.exit(1);
}

// .npy dtype descr <-> onnxruntime tensor type and typed array.
const NPY_TYPES = {
  '<f4': {ort: 'float32', array: Float32Array},
  '<i8': {ort: 'int64', array: BigInt64Array},
  '<i4': {ort: 'int32', array: Int32Array},
  '|u1': {ort: 'uint8', array: Uint8Array},
  '|i1': {ort: 'int8', array: Int8Array},
  '|b1': {ort: 'bool', array: Uint8Array},
};
const ORT_TO_NPY = Object.fromEntries(Object.entries(NPY_TYPES).map(([d, t]) => [t.ort, d]));

// Reads a little-endian, C-order .npy file (format 1.0-3.0) into {type, dims, data}.
function readNpy(file) {
  let buf;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    fail(`cannot open ${file}: ${e.message}`);
  }
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY') {
    fail(`${file} is not a .npy file`);
  }
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const headerStart = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', headerStart, headerStart + headerLen);
  const descr = /'descr':\s*'([^']+)'/.exec(header);
  const fortran = /'fortran_order':\s*(True|False)/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shape) fail(`${file}: malformed .npy header`);
  if (fortran[1] === 'True') fail(`${file}: Fortran-order arrays are not supported`);
  const t = NPY_TYPES[descr[1]];
  if (!t) fail(`${file}: dtype '${descr[1]}' is not supported (float32, int64, int32, uint8, int8, bool)`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s.length).map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  const offset = headerStart + headerLen;
  const bytes = count * t.array.BYTES_PER_ELEMENT;
  if (buf.length - offset !== bytes) {
    fail(`${file}: ${buf.length - offset} bytes of data for shape [${dims}] of ${t.ort}`);
  }
  // Copy into an aligned buffer of its own.
  const data = new t.array(count);
  Buffer.from(data.buffer).set(buf.subarray(offset, offset + bytes));
  return {type: t.ort === 'bool' ? 'bool' : t.ort, dims, data};
}

function writeNpy(file, tensor) {
  const descr = ORT_TO_NPY[tensor.type];
  if (!descr) fail(`output type ${tensor.type} cannot be written as .npy`);
  const shape = tensor.dims.length === 1 ? `(${tensor.dims[0]},)` : `(${tensor.dims.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  // Pad with spaces so that magic + version + length + header is a multiple of 64, ending in \n.
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const prefix = Buffer.alloc(10);
  prefix.write('\x93NUMPY', 0, 'latin1');
  prefix[6] = 1;
  prefix[7] = 0;
  prefix.writeUInt16LE(header.length, 8);
  const data = tensor.data;
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  fs.writeFileSync(file, Buffer.concat([prefix, Buffer.from(header, 'latin1'), body]));
}

// Output names like "/encoder/Add_output_0" become file names without '/', as in qclip-run.
function fileName(name) {
  const s = name.replace(/[^A-Za-z0-9._-]/g, '_');
  return s.length ? s : 'output';
}

function parseArgs(argv) {
  const args = {model: null, inputs: [], outputDir: null, threads: 0, bench: 0, warmupMs: 0};
  const intArg = (flag, v, lo, hi) => {
    if (v === undefined || !/^-?\d+$/.test(v) || Number(v) < lo || Number(v) > hi) {
      fail(`${flag} expects an integer in [${lo}, ${hi}], got '${v}'`);
    }
    return Number(v);
  };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    if (a === '--input' || a === '-i') {
      const v = argv[++i];
      const eq = v === undefined ? -1 : v.indexOf('=');
      if (eq <= 0) fail(`--input expects NAME=FILE.npy, got '${v}'`);
      args.inputs.push([v.slice(0, eq), v.slice(eq + 1)]);
    } else if (a === '--output-dir' || a === '-o') {
      args.outputDir = argv[++i];
      if (args.outputDir === undefined) fail('--output-dir expects a folder');
    } else if (a === '--threads' || a === '-t') {
      args.threads = intArg('--threads', argv[++i], 0, 1024);
    } else if (a === '--bench') {
      args.bench = intArg('--bench', argv[++i], 0, 1000000);
    } else if (a === '--warmup-ms') {
      args.warmupMs = intArg('--warmup-ms', argv[++i], 0, 3600000);
    } else if (a === '--help' || a === '-h') {
      process.stdout.write(
          'usage: node run_ort.js MODEL.onnx --input NAME=FILE.npy ... [--output-dir DIR] ' +
          '[--threads N] [--bench N [--warmup-ms T]]\n');
      process.exit(0);
    } else if (a.startsWith('-')) {
      fail(`unknown option '${a}'`);
    } else if (args.model === null) {
      args.model = a;
    } else {
      fail(`unexpected argument '${a}'`);
    }
  }
  if (args.model === null) fail('no model given');
  if (args.inputs.length === 0) fail('no --input given');
  return args;
}

function median(ms) {
  const s = [...ms].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  let ort;
  try {
    ort = require('onnxruntime-node');
  } catch (e) {
    fail(`onnxruntime-node is not installed (run: npm install --ignore-scripts in ${__dirname}): ${e.message}`);
  }
  if (!fs.existsSync(args.model)) fail(`cannot open ${args.model}`);
  const options = {
    executionProviders: ['cpu'],
    intraOpNumThreads: args.threads,  // 0: ORT's default, all cores
    interOpNumThreads: 1,
    executionMode: 'sequential',
  };
  const t0 = performance.now();
  let session;
  try {
    session = await ort.InferenceSession.create(path.resolve(args.model), options);
  } catch (e) {
    fail(`${args.model}: ${e.message}`);
  }
  const loadMs = performance.now() - t0;

  const feeds = {};
  for (const [name, file] of args.inputs) {
    if (!session.inputNames.includes(name)) {
      fail(`${args.model}: the model has no input '${name}' (its inputs: ${session.inputNames.join(', ')})`);
    }
    const {type, dims, data} = readNpy(file);
    feeds[name] = new ort.Tensor(type, data, dims);
  }
  const run = async () => {
    try {
      return await session.run(feeds);
    } catch (e) {
      fail(`${args.model}: ${e.message}`);
    }
  };
  const outputs = await run();
  for (const name of session.outputNames) {
    const t = outputs[name];
    if (args.outputDir !== null) {
      writeNpy(path.join(args.outputDir, fileName(name) + '.npy'), t);
    } else {
      process.stdout.write(`${name} [${t.dims.join(', ')}] ${t.type}\n`);
    }
  }
  if (args.bench > 0) {
    for (const start = performance.now(); performance.now() - start < args.warmupMs;) await run();
    const ms = [];
    for (let r = 0; r < args.bench; ++r) {
      const start = performance.now();
      await run();
      ms.push(performance.now() - start);
    }
    const min = Math.min(...ms);
    process.stdout.write(
        `load_ms=${loadMs.toFixed(3)} median_ms=${median(ms).toFixed(3)} min_ms=${min.toFixed(3)}\n`);
  }
}

main().catch((e) => fail(e && e.message ? e.message : String(e)));
