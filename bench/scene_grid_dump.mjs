// Reads the output of `SCENE_GRID_DUMP=1 build/tests/test_scene_grid`
// (one district: a table row per variant, then an "@ " line per listed
// flat: score, is a rental, people over the limit (estimate, low, high),
// allowed, shown occupancy, registered, true excess, type, dense id,
// fired checks) and prints, for docs/SCENES.md ("Ordering share, and
// calibration per district"):
//   - predicted against observed by score decile, all variants pooled;
//   - the same after prior-shift adaptation (Saerens, Latinne and
//     Decaestecker 2002) per variant: the map's output turned into a
//     likelihood ratio against the training prior, the variant's
//     prevalence among its candidates estimated by EM over its own
//     scores, and re-mapped (measured, not shipped).
//   node bench/scene_grid_dump.mjs DUMP_FILE [TRAINING_PRIOR]
// TRAINING_PRIOR: the share of rentals among the candidates of the
// districts the map was fitted on (0.388: seeds 3 and 5, 8,000 x 28).
import { readFileSync } from 'node:fs';

const [file, priorArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/scene_grid_dump.mjs DUMP_FILE [PRIOR]');
  process.exit(2);
}
const prior = priorArg ? Number(priorArg) : 0.388;

const variants = [];
for (const line of readFileSync(file, 'utf8').split('\n')) {
  const cells = line.split('|').map((c) => c.trim());
  if (line.startsWith('| ') && /^\d+$/.test(cells[2] || '')) {
    variants.push({ name: cells[1], row: line, flats: [] });
  } else if (line.startsWith('@ ') && variants.length) {
    const f = line.split(/\s+/);
    if (f.length < 11 || Number.isNaN(Number(f[7]))) continue; // torn line
    variants.at(-1).flats.push({ score: Number(f[1]), rental: f[2] === '1' });
  }
}

function table(flats, key) {
  const n = Array(10).fill(0), sum = Array(10).fill(0);
  const rentals = Array(10).fill(0);
  for (const x of flats) {
    const d = Math.min(9, Math.floor(x[key] * 10));
    n[d]++;
    sum[d] += x[key];
    rentals[d] += x.rental ? 1 : 0;
  }
  let worst = 0;
  console.log('| score | flats | mean score | group rentals |');
  console.log('|---|---|---|---|');
  for (let d = 0; d < 10; d++) {
    if (!n[d]) continue;
    const m = sum[d] / n[d], o = rentals[d] / n[d];
    if (n[d] >= 30) worst = Math.max(worst, Math.abs(m - o));
    console.log(`| ${(d / 10).toFixed(1)}-${((d + 1) / 10).toFixed(1)} | ` +
                `${n[d]} | ${m.toFixed(3)} | ${o.toFixed(3)} |`);
  }
  console.log(`worst decile of 30+ flats off by ${worst.toFixed(3)}\n`);
}

// Saerens et al.: p' = r p / (r p + 1 - p), r = odds(pi) / odds(prior),
// iterating pi = mean(p') to its fixed point.
function adapt(flats) {
  const shifted = (p, r) => (r * p) / (r * p + 1 - p);
  let pi = prior, r = 1;
  for (let it = 0; it < 500; it++) {
    r = (pi / (1 - pi)) / (prior / (1 - prior));
    const next = flats.reduce((a, x) => a + shifted(x.score, r), 0) /
                 flats.length;
    if (Math.abs(next - pi) < 1e-9) break;
    pi = next;
  }
  for (const x of flats) x.adapted = shifted(x.score, r);
  return pi;
}

const all = variants.flatMap((v) => v.flats);
for (const v of variants) {
  const observed = v.flats.filter((x) => x.rental).length / v.flats.length;
  const pi = adapt(v.flats);
  console.log(`${v.name}: ${v.flats.length} listed, ${observed.toFixed(3)} ` +
              `rentals; EM prevalence ${pi.toFixed(3)}`);
}
console.log('\nThe shipped map:');
table(all, 'score');
console.log('After prior-shift EM per variant:');
table(all, 'adapted');
