// bench/scene_latency.mjs - from the arrival of new data to an updated
// group-rental suspect list, end to end through the real server: a reading
// is POSTed (acknowledged = committed), then the suspects endpoint is
// polled every 10 ms until its as_of reflects that reading.  The path is
// HTTP -> store commit -> roll-up consumer -> scene engine -> re-score
// worker -> published ranking -> HTTP.
//
//   node bench/scene_latency.mjs BASE_URL TOKEN_FILE [SAMPLES]
import { readFileSync } from 'node:fs';

const [base, tokenFile, samplesArg] = process.argv.slice(2);
const token = readFileSync(tokenFile, 'utf8').trim();
const samples = Number(samplesArg || 20);
const auth = { authorization: `Bearer ${token}` };
const get = async () => (await (await fetch(
    `${base}/api/v1/scenes/group-rental/suspects?limit=1`,
    { headers: auth })).json());

const start = Date.parse((await get()).as_of) / 1000;
const lat = [];
for (let i = 1; i <= samples; i++) {
  const ts = start + 86400 + i * 60; // ahead of any live stream
  const t0 = performance.now();
  const r = await fetch(`${base}/api/v1/write?precision=s`, {
    method: 'POST', headers: auth,
    body: `electricity,household=H0000001 delta=0.2 ${ts}\n` });
  if (r.status !== 200) throw new Error(`write: ${r.status}`);
  for (;;) {
    const s = await get();
    if (Date.parse(s.as_of) / 1000 >= ts) break;
    if (performance.now() - t0 > 10000) throw new Error('no update in 10 s');
    await new Promise((res) => setTimeout(res, 10));
  }
  lat.push(performance.now() - t0);
}
lat.sort((a, b) => a - b);
const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
console.log(`data -> updated suspect list, ${samples} samples: median ` +
    `${q(0.5).toFixed(0)} ms, p90 ${q(0.9).toFixed(0)} ms, max ` +
    `${lat[lat.length - 1].toFixed(0)} ms`);
