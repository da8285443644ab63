// Builds the UI into web/dist: the page, our script and styles, and the
// packages' files it needs (ECharts), all served by citybrain itself, so
// the screens work with no internet (no CDN, no online map tiles).
import { mkdirSync, copyFileSync, readdirSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, 'assets'), { recursive: true });
copyFileSync(join(here, 'src', 'index.html'), join(dist, 'index.html'));
for (const f of readdirSync(join(here, 'src')))
  if (f !== 'index.html') copyFileSync(join(here, 'src', f),
      join(dist, 'assets', f));
copyFileSync(join(here, 'node_modules', 'echarts', 'dist', 'echarts.min.js'),
    join(dist, 'assets', 'echarts.min.js'));
console.log('web: built web/dist');
