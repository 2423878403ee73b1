// Runs every qdq export written by write_onnx_fixtures in ONNX Runtime (onnxruntime-node) and compares
// its output with the integer runtime's codes: every code must be equal.
//   node check_qdq_with_onnxruntime.js FIXTURES NODE_MODULES
// Exit 0: no mismatch; 1: mismatches or an error; 77: onnxruntime-node is not installed (skipped).
'use strict';
const fs = require('fs');
const path = require('path');

const kSkipped = 77;

/// A .npy file of little-endian signed integers (what fxnn writes): {shape, data: Array of Number}.
function loadNpy(file) {
  const bytes = fs.readFileSync(file);
  const major = bytes[6];
  const headerLength = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12);
  const header = bytes.toString('latin1', start, start + headerLength);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').filter((s) => s.trim()).map(Number);
  const body = bytes.subarray(start + headerLength);
  const readers = {'|i1': [1, (o) => body.readInt8(o)], '<i1': [1, (o) => body.readInt8(o)],
    '<i2': [2, (o) => body.readInt16LE(o)], '<i4': [4, (o) => body.readInt32LE(o)],
    '<i8': [8, (o) => Number(body.readBigInt64LE(o))]};
  if (!(descr in readers)) throw new Error(`${file}: dtype ${descr} is not a signed integer`);
  const [size, read] = readers[descr];
  const data = new Array(body.length / size);
  for (let i = 0; i < data.length; ++i) data[i] = read(i * size);
  return {shape, data};
}

async function checkNetwork(ort, dir) {
  const input = loadNpy(path.join(dir, 'input.npy'));
  const expected = loadNpy(path.join(dir, 'codes.npy'));
  const type = fs.readFileSync(path.join(dir, 'input_type.txt'), 'utf8').trim();
  const values = type === 'float32' ? Float32Array.from(input.data) : Float64Array.from(input.data);
  const session = await ort.InferenceSession.create(path.join(dir, 'qdq.onnx'));
  const feeds = {[session.inputNames[0]]: new ort.Tensor(type, values, input.shape)};
  const result = await session.run(feeds);
  const got = result[session.outputNames[0]];
  if (got.data.length !== expected.data.length)
    throw new Error(`${dir}: ${got.data.length} outputs, expected ${expected.data.length}`);
  let mismatches = 0;
  let first = '';
  for (let i = 0; i < got.data.length; ++i) {
    if (Number(got.data[i]) !== expected.data[i]) {
      if (!mismatches) first = ` (first at ${i}: onnxruntime ${got.data[i]}, runtime ${expected.data[i]})`;
      ++mismatches;
    }
  }
  console.log(`${path.basename(dir)}: ${got.data.length} codes (${got.type}), ${mismatches} mismatches${first}`);
  return mismatches;
}

async function main() {
  const [fixtures, nodeModules] = process.argv.slice(2);
  const module = path.resolve(nodeModules, 'onnxruntime-node');
  if (!fs.existsSync(module)) {
    console.log(`onnxruntime-node is not installed in ${nodeModules} (scripts/setup.sh installs it when npm is ` +
                `available): skipped`);
    process.exit(kSkipped);
  }
  const ort = require(module);
  let mismatches = 0;
  const names = fs.readdirSync(fixtures).filter((n) => fs.existsSync(path.join(fixtures, n, 'qdq.onnx'))).sort();
  if (!names.length) throw new Error(`${fixtures}: no exported networks`);
  for (const name of names) mismatches += await checkNetwork(ort, path.join(fixtures, name));
  console.log(`${names.length} networks, ${mismatches} mismatches in total`);
  process.exit(mismatches ? 1 : 0);
}

main().catch((e) => {
  console.error(`check_qdq_with_onnxruntime: ${e.message}`);
  process.exit(1);
});
