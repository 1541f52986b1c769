// The onnxruntime side of `strongroom-bench infer` (bench/infer_bench.cc).
//
// A long-lived child process: strongroom-bench starts it once, creates its
// sessions once, then asks it for timed blocks of runs between blocks of its
// own runtime, so that process start and session creation stay out of the
// per-run timings. One JSON object per line on stdin, one JSON answer per
// line on stdout ({"ok": true, ...} or {"ok": false, "error": "..."});
// requests are answered in order. stderr is left to onnxruntime's own log.
//
//   {"cmd": "hello"}
//     -> {"ok", "onnxruntime", "node", "await_overhead_us"}
//        await_overhead_us: median time of `await` on a setImmediate promise,
//        the hop that InferenceSession.run() takes before it calls the native
//        run (part of every "run" timing below).
//   {"cmd": "load", "id", "model": PATH, "threads": N,
//    "input": {"name", "dims": [...], "data_b64": little-endian float32}}
//     -> {"ok", "create_ms"}      one InferenceSession per id, CPU provider,
//        intraOpNumThreads N, interOpNumThreads 1, graphOptimizationLevel
//        "all", sequential execution; everything else onnxruntime's default.
//   {"cmd": "run", "id", "n": N}
//     -> {"ok", "us": [N per-run wall times, microseconds], "block_us"}
//        each: process.hrtime around `await session.run(feeds)`;
//        block_us: the whole loop.
//   {"cmd": "output", "id"}
//     -> {"ok", "outputs": [{"name", "type", "dims", "data_b64"}]} of one run
//   {"cmd": "close", "id"} -> {"ok"}
// End of stdin ends the process.
'use strict';

const readline = require('readline');
const ort = require('onnxruntime-node');

ort.env.logLevel = 'error';

const sessions = new Map(); // id -> {session, feeds}

function nowUs() {
  return Number(process.hrtime.bigint()) / 1e3;
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return 0;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function float32FromBase64(b64, count, field) {
  const bytes = Buffer.from(b64, 'base64');
  if (bytes.length !== count * 4) {
    throw new Error(`${field}: ${bytes.length} bytes, but the dims need ${count * 4}`);
  }
  // Copy into an aligned buffer of its own (Buffer pools are not 4-aligned).
  const out = new Float32Array(count);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

function lookUp(id) {
  const s = sessions.get(id);
  if (!s) throw new Error(`id '${id}': no session loaded under this id`);
  return s;
}

async function handle(req) {
  switch (req.cmd) {
    case 'hello': {
      const samples = [];
      for (let i = 0; i < 200; ++i) {
        const t0 = nowUs();
        await new Promise((resolve) => setImmediate(resolve));
        samples.push(nowUs() - t0);
      }
      return {
        onnxruntime: require('onnxruntime-node/package.json').version,
        node: process.version,
        await_overhead_us: median(samples),
      };
    }
    case 'load': {
      if (sessions.has(req.id)) throw new Error(`id '${req.id}': already loaded`);
      const threads = req.threads;
      if (!Number.isInteger(threads) || threads < 1) {
        throw new Error(`threads '${threads}': not a positive integer`);
      }
      const dims = req.input.dims;
      const count = dims.reduce((a, b) => a * b, 1);
      const data = float32FromBase64(req.input.data_b64, count, 'input.data_b64');
      const t0 = nowUs();
      const session = await ort.InferenceSession.create(req.model, {
        executionProviders: ['cpu'],
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        executionMode: 'sequential',
      });
      const createMs = (nowUs() - t0) / 1e3;
      if (!session.inputNames.includes(req.input.name)) {
        throw new Error(`input '${req.input.name}': the model's inputs are ${session.inputNames}`);
      }
      const feeds = { [req.input.name]: new ort.Tensor('float32', data, dims) };
      sessions.set(req.id, { session, feeds });
      return { create_ms: createMs };
    }
    case 'run': {
      const { session, feeds } = lookUp(req.id);
      const n = req.n;
      if (!Number.isInteger(n) || n < 1) throw new Error(`n '${n}': not a positive integer`);
      const us = new Array(n);
      const start = nowUs();
      for (let i = 0; i < n; ++i) {
        const t0 = nowUs();
        await session.run(feeds);
        us[i] = nowUs() - t0;
      }
      return { us, block_us: nowUs() - start };
    }
    case 'output': {
      const { session, feeds } = lookUp(req.id);
      const results = await session.run(feeds);
      const outputs = session.outputNames.map((name) => {
        const t = results[name];
        const view = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
        return { name, type: t.type, dims: t.dims, data_b64: view.toString('base64') };
      });
      return { outputs };
    }
    case 'close': {
      const s = lookUp(req.id);
      await s.session.release();
      sessions.delete(req.id);
      return {};
    }
    default:
      throw new Error(`cmd '${req.cmd}': unknown (hello, load, run, output, close)`);
  }
}

async function main() {
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.trim() === '') continue;
    let answer;
    try {
      answer = { ok: true, ...(await handle(JSON.parse(line))) };
    } catch (e) {
      answer = { ok: false, error: String(e && e.message ? e.message : e) };
    }
    process.stdout.write(JSON.stringify(answer) + '\n');
  }
  for (const { session } of sessions.values()) await session.release();
}

main().catch((e) => {
  process.stderr.write(`ort_child: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
