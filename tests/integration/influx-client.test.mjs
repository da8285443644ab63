// The official InfluxDB JavaScript client writes to /api/v2/write unchanged;
// the readings are then read back through citybrain's own API.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InfluxDB, Point } from '@influxdata/influxdb-client';
import { startServer, seedHouseholds } from './lib.mjs';

test('@influxdata/influxdb-client writes readings citybrain keeps',
    async () => {
  const srv = await startServer();
  try {
    const [h1, h2] = await seedHouseholds(srv, 2);
    const influx = new InfluxDB({ url: srv.base, token: srv.admin });
    const writeApi = influx.getWriteApi('district', 'meters', 's',
        { gzipThreshold: 100, maxRetries: 0 });
    const t0 = 1761926400;
    for (let i = 0; i < 50; i++) {
      writeApi.writePoint(new Point('electricity').tag('household', h1)
          .floatField('index', 500 + i * 0.25)
          .timestamp(t0 + i * 900));
      writeApi.writePoint(new Point('water').tag('household', h2)
          .floatField('delta', 0.01).timestamp(t0 + i * 900));
    }
    await writeApi.close();  // flushes; throws if the server refused

    let r = await srv.req('GET',
        `/api/v1/households/${h1}/readings?metric=electricity&limit=1000`);
    assert.equal(r.status, 200);
    assert.equal(r.json.length, 50);
    r = await srv.req('GET',
        `/api/v1/households/${h2}/readings?metric=water&limit=1000`);
    assert.equal(r.json.length, 50);

    // The client surfaces our InfluxDB-shaped errors.
    const bad = influx.getWriteApi('district', 'meters', 's',
        { maxRetries: 0 });
    bad.writeRecord('electricity,household=NOBODY index=1 1761926400');
    await assert.rejects(bad.close(), (e) => e.statusCode === 400);
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});
